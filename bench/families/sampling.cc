#include "bench/families/sampling.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace trainbench {

SampleRecord TakeSamples(benchmark::State& state, const StoppingCriterion& c,
                         const std::function<double()>& take_sample, int64_t iterations_per_sample) {
  SampleRecord r;
  r.criterion_on = c.on();
  r.iterations_per_sample = c.on() ? std::max<int64_t>(iterations_per_sample, 1) : 1;
  const auto per_sample = static_cast<double>(r.iterations_per_sample);
  for (auto _ : state) {
    if (!c.on()) {
      const double s = take_sample();
      r.seconds.push_back(s);
      state.SetIterationTime(s);
      continue;
    }
    double timed = 0;  // seconds of all the samples' iterations
    std::optional<StopReason> why;
    while (!why) {
      const double s = take_sample();
      r.seconds.push_back(s / per_sample);
      timed += s;
      why = ShouldStop(c, r.seconds, timed);
    }
    r.reason = *why;
    state.SetIterationTime(timed / per_sample / static_cast<double>(r.seconds.size()));
  }
  return r;
}

int64_t IterationsPerSample(double iteration_seconds, double min_sample_seconds) {
  constexpr double kMaxIterations = 1e6;
  if (!(iteration_seconds > 0) || !(min_sample_seconds > 0)) return 1;
  return static_cast<int64_t>(std::clamp(std::ceil(min_sample_seconds / iteration_seconds), 1.0, kMaxIterations));
}

int64_t RegisterIterations(const StoppingCriterion& c, int64_t fixed) { return c.on() ? 1 : fixed; }

void AddNoiseCounters(const SampleRecord& r, benchmark::State& state) {
  const SampleStats s = Summarize(r.seconds);
  if (s.count >= 2) state.counters["noise_pct"] = s.noise_pct;  // one sample has no spread, not a 0
  state.counters["noise_samples"] = static_cast<double>(s.count);
  if (r.criterion_on) state.counters["noise_met"] = r.reason == StopReason::kNoise ? 1.0 : 0.0;
  if (r.iterations_per_sample > 1) state.counters["sample_iterations"] = static_cast<double>(r.iterations_per_sample);
  state.SetLabel(SamplesLabel(r.seconds));
}

std::string SamplesLabel(const std::vector<double>& seconds) {
  const size_t n = std::min(seconds.size(), kMaxLabelSamples);
  return absl::StrCat(kSamplesLabelPrefix,
                      absl::StrJoin(seconds.begin(), seconds.begin() + static_cast<ptrdiff_t>(n), ",",
                                    [](std::string* out, double x) { absl::StrAppendFormat(out, "%.6g", x); }));
}

std::string NoiseLine(const std::string& name, const StoppingCriterion& c, const SampleRecord& r) {
  if (!r.criterion_on || r.reason != StopReason::kTime) return "";
  const SampleStats s = Summarize(r.seconds);
  return absl::StrFormat("%s: stopped at --max_seconds=%g with noise %.1f%% over %d samples, above --max_noise=%g",
                         name, c.max_seconds, s.noise_pct, s.count, c.max_noise_pct);
}

}  // namespace trainbench
