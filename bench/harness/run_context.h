// The run's JSON context (Google Benchmark's custom context): the software, the data, the
// devices, the world, and the declarations the tools read (lab parts, counters, axes, models).
#pragma once

#include "bench/dist/distributed.h"
#include "bench/harness/harness.h"

namespace trainbench {

// Versions, options, data and each device's description.
void AddContext(const Harness& env);
// Only for a world of more than one rank: a world of one's context stays as it was.
void AddWorldContext(const WorldComm& dist);
// "lab_parts", "counters", "axes", "models".
void AddDeclarations(bool cuda_available);

}  // namespace trainbench
