#include "bench/harness/flag_checks.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/axes.h"

namespace trainbench {

absl::Status CheckCpuThreads(int64_t value, int cores) {
  const int64_t most = int64_t{4} * std::max(1, cores);
  if (value < 0 || value > most) {
    return FlagError("cpu_threads", absl::StrCat(value),
                     absl::StrCat("out of range 0..", most, " (4x the ", std::max(1, cores), " cores)"));
  }
  return absl::OkStatus();
}

}  // namespace trainbench
