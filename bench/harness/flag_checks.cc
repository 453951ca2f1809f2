#include "bench/harness/flag_checks.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

namespace {

// 1000000 rather than StrCat's 1e+06; inf and 1e+308 as they are.
std::string Number(double v) { return absl::StrFormat("%.15g", v); }

}  // namespace

const FlagRange* FindFlagRange(absl::string_view flag) {
  for (const FlagRange& r : kFlagRanges) {
    if (r.flag == flag) return &r;
  }
  return nullptr;
}

std::string RangeText(const FlagRange& range) {
  std::string text =
      absl::StrCat(Number(range.least), "..", Number(range.most), range.unit.empty() ? "" : " ", range.unit);
  if (range.also) absl::StrAppend(&text, ", or ", Number(*range.also), " (", range.also_means, ")");
  return text;
}

absl::Status CheckFlagRange(const FlagRange& range, double value) {
  if (range.also && value == *range.also) return absl::OkStatus();
  // !(a <= b) also refuses NaN.
  if (std::isfinite(value) && range.least <= value && value <= range.most) return absl::OkStatus();
  return FlagError(range.flag, Number(value), absl::StrCat("out of range ", RangeText(range)));
}

}  // namespace trainbench
