// Checks of trainbench's numeric flags that need more than a type: torch-free, unit-tested.
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace trainbench {

// --cpu_threads: 0 (all cores) up to 4x the cores, like --workers' bound: more threads than
// that only measure oversubscription. "--cpu_threads=9999: out of range 0..8 (4x the 2 cores)".
absl::Status CheckCpuThreads(int64_t value, int cores);

}  // namespace trainbench
