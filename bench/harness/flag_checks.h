// Checks of numeric flags that need more than a type: torch-free, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace trainbench {

// --cpu_threads: 0 (all cores) up to 4x the cores, like --workers' bound: more threads than
// that only measure oversubscription. "--cpu_threads=9999: out of range 0..8 (4x the 2 cores)".
absl::Status CheckCpuThreads(int64_t value, int cores);

// The range of a numeric flag, trainbench's or Google Benchmark's (the library checks only
// the type: a negative --benchmark_repetitions aborted the run after the results file was
// replaced, and --warmup_seconds=inf warmed up for ever). Every value must be finite and in
// least..most, or be `also`. --help prints each range (RangeText).
struct FlagRange {
  absl::string_view flag;
  double least;
  double most;
  absl::string_view unit;             // after the range: "s", or "" for a count
  std::optional<double> also;         // one value outside the range that has a meaning
  absl::string_view also_means = "";  // what it means
};

inline constexpr FlagRange kFlagRanges[] = {
    {"warmup_steps", 0, 1'000'000, ""},
    {"warmup_seconds", 0, 3600, "s", -1, "the default: 0.5 s on cuda, none on cpu"},
    {"epochs", 1, 100'000, ""},
    {"dist_timeout_s", 1, 86'400, "s"},
    {"max_noise", 0.01, 100, "%", 0, "off: a fixed count of samples"},
    {"min_samples", 2, 100'000, ""},
    {"max_seconds", 0.001, 86'400, "s"},
    // Google Benchmark's.
    {"benchmark_repetitions", 1, 100'000, ""},
    {"benchmark_min_time", 0, 86'400, "s"},
    {"benchmark_min_warmup_time", 0, 86'400, "s"},
};

// The range of flag (its name without "--"), or nullptr.
[[nodiscard]] const FlagRange* FindFlagRange(absl::string_view flag);

// "0..3600 s, or -1 (the default: ...)".
[[nodiscard]] std::string RangeText(const FlagRange& range);

// OK, or "--warmup_seconds=inf: out of range 0..3600 s, or -1 (the default: ...)".
absl::Status CheckFlagRange(const FlagRange& range, double value);

}  // namespace trainbench
