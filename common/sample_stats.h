// A row's samples (per-epoch or per-iteration times) and what they say about its noise, the
// stopping criterion that decides how many to take, and when warm-up has settled: one place
// for the numbers every family reports (noise_pct, noise_samples) and the rules behind them.
// Pure (no clock, no torch), so each rule is tested with a made-up sequence.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/types/span.h"

namespace trainbench {

struct SampleStats {
  int64_t count = 0;
  double mean = 0;
  double stddev = 0;  // sample standard deviation (n - 1); 0 for fewer than 2 samples
  // Relative standard deviation, 100 x stddev / mean (nvbench's "stdrel", Google Benchmark's
  // _cv as a percent); 0 for fewer than 2 samples or a mean of 0.
  double noise_pct = 0;
};
[[nodiscard]] SampleStats Summarize(absl::Span<const double> samples);

// nvbench's stdrel criterion: take at least min_samples samples, then until their noise is at
// most max_noise_pct or until max_seconds of timed work, whichever comes first (unlike
// nvbench's timeout, the time limit waits for min_samples: every row has a spread). Off
// (max_noise_pct == 0) a row takes exactly fixed_samples, as before the criterion existed.
struct StoppingCriterion {
  double max_noise_pct = 0;  // 0: off
  int64_t min_samples = 3;
  double max_seconds = 60;  // timed work per row, s
  [[nodiscard]] bool on() const { return max_noise_pct > 0; }
};

enum class StopReason { kCount, kNoise, kTime };
// "count", "noise" or "time".
[[nodiscard]] const char* StopReasonName(StopReason r);

// Whether a row that has taken these samples (timed_seconds of timed work in all) stops now,
// and why. Never before the first sample; off, after every one (kCount); on, never before
// min_samples (at least 2), whatever the time spent.
[[nodiscard]] std::optional<StopReason> ShouldStop(const StoppingCriterion& c, absl::Span<const double> samples,
                                                   double timed_seconds);

// Warm-up by stability: done once at least floor_steps have run and the last window_steps
// step times are within tolerance_pct of their median (each one), or at ceiling_steps
// whatever they look like. These defaults are the run's (RunOptions::Stability sets only the
// floor, from --warmup_steps): 5 and 10% because a CPU step on the development VM varies by a
// few % once warm, while the first steps (allocator, lazily loaded kernels, cuDNN plans) take
// 2-40x a warm one; 100 steps bound a row whose steps never settle.
struct WarmupStability {
  int64_t floor_steps = 5;
  int64_t window_steps = 5;
  double tolerance_pct = 10;
  int64_t ceiling_steps = 100;
};
[[nodiscard]] bool WarmupSettled(const WarmupStability& w, absl::Span<const double> step_seconds);
// Whether there is a warm-up at all: no floor of steps and no floor of seconds is none (a cold
// measurement), in every family.
[[nodiscard]] inline bool WarmsUp(int64_t min_steps, double min_seconds) { return min_steps > 0 || min_seconds > 0; }

// The median of the last count values (all of them when there are fewer; 0 when none); of an
// even count, the upper middle one.
[[nodiscard]] double MedianOfLast(absl::Span<const double> values, size_t count);

}  // namespace trainbench
