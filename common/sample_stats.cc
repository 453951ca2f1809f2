#include "common/sample_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace trainbench {

SampleStats Summarize(absl::Span<const double> samples) {
  SampleStats s;
  s.count = static_cast<int64_t>(samples.size());
  if (samples.empty()) return s;
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  if (s.count < 2) return s;
  double squares = 0;
  for (double x : samples) squares += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(squares / static_cast<double>(s.count - 1));
  s.noise_pct = s.mean != 0 ? 100.0 * s.stddev / std::abs(s.mean) : 0.0;
  return s;
}

const char* StopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kCount: return "count";
    case StopReason::kNoise: return "noise";
    case StopReason::kTime: return "time";
  }
  return "count";
}

std::optional<StopReason> ShouldStop(const StoppingCriterion& c, absl::Span<const double> samples,
                                     double timed_seconds) {
  const auto n = static_cast<int64_t>(samples.size());
  if (n == 0) return std::nullopt;
  if (!c.on()) return StopReason::kCount;
  // A sample that is not a number compares false with every limit: stop rather than loop on.
  if (!std::isfinite(samples.back()) || !std::isfinite(timed_seconds)) return StopReason::kTime;
  // min_samples is a floor for the time limit too: a row of 1 sample has no noise to report
  // and gives the U-test nothing (the lab suite's Large epoch, 14 s a sample on the 2-core VM,
  // stopped at 1 at a 10 s limit).
  if (n < std::max<int64_t>(c.min_samples, 2)) return std::nullopt;
  if (Summarize(samples).noise_pct <= c.max_noise_pct) return StopReason::kNoise;
  if (timed_seconds >= c.max_seconds) return StopReason::kTime;
  return std::nullopt;
}

bool WarmupSettled(const WarmupStability& w, absl::Span<const double> step_seconds) {
  const auto n = static_cast<int64_t>(step_seconds.size());
  if (n >= w.ceiling_steps) return true;
  if (n < std::max(w.floor_steps, w.window_steps) || w.window_steps <= 0) return false;
  const double median = MedianOfLast(step_seconds, static_cast<size_t>(w.window_steps));
  return std::all_of(step_seconds.end() - w.window_steps, step_seconds.end(),
                     [&](double t) { return std::abs(t - median) <= median * w.tolerance_pct / 100.0; });
}

double MedianOfLast(absl::Span<const double> values, size_t count) {
  count = std::min(count, values.size());
  if (count == 0) return 0;
  std::vector<double> last(values.end() - static_cast<ptrdiff_t>(count), values.end());
  std::nth_element(last.begin(), last.begin() + static_cast<ptrdiff_t>(count / 2), last.end());
  return last[count / 2];
}

}  // namespace trainbench
