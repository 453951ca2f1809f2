// A row's timed samples, taken by the stopping criterion (common/sample_stats.h), for every
// family that times repeated work: BM_TrainEpoch (a sample is an epoch), BM_TrainStep (an
// iteration of steps), and the data-parallel epoch.
//
// With the criterion off, each Google Benchmark iteration is one sample, as before: the
// family registers its fixed count (BM_TrainEpoch: --epochs) or lets Google Benchmark choose
// (BM_TrainStep). With it on (--max_noise), the family registers one iteration
// (RegisterIterations) and the samples are taken inside it until the criterion stops them;
// the iteration's manual time is their mean, so real_time keeps its meaning (seconds per
// epoch, per iteration of steps) either way.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/sample_stats.h"

namespace trainbench {

struct SampleRecord {
  std::vector<double> seconds;  // each sample's timed seconds per iteration, in order
  StopReason reason = StopReason::kCount;
  bool criterion_on = false;
  int64_t iterations_per_sample = 1;  // with the criterion on: iterations each sample spans
};

// Takes the samples: take_sample runs one and returns its timed seconds. It may throw
// (Interrupted, out of memory): the samples taken so far are lost with the row, as before.
// With the criterion on, a sample may span iterations_per_sample iterations (take_sample runs
// them all): its value is then its seconds per iteration, so that real_time and the samples
// mean the same as with one, and --max_seconds counts the whole sample's time.
SampleRecord TakeSamples(benchmark::State& state, const StoppingCriterion& c,
                         const std::function<double()>& take_sample, int64_t iterations_per_sample = 1);

// How many iterations a sample spans so that it lasts at least min_sample_seconds, from the
// seconds one iteration took (the warm-up's median): at least 1, at most 1,000,000.
[[nodiscard]] int64_t IterationsPerSample(double iteration_seconds, double min_sample_seconds);

// The iterations a family registers: 1 with the criterion on, else fixed (0: Google
// Benchmark's choice).
[[nodiscard]] int64_t RegisterIterations(const StoppingCriterion& c, int64_t fixed);

// noise_samples always, noise_pct from 2 samples on; noise_met (1: the criterion stopped on noise, 0: on time)
// with the criterion on, and sample_iterations when a sample spans more than one iteration.
void AddNoiseCounters(const SampleRecord& r, benchmark::State& state);

// The row's samples in its label, "samples_s=0.512,0.509,0.520" (seconds, 6 significant
// digits; the first kMaxLabelSamples), where tools/gbench.py reads them for compare's U-test
// (Google Benchmark rows hold only numbers and one label). The console does not show it.
inline constexpr size_t kMaxLabelSamples = 1000;
inline constexpr char kSamplesLabelPrefix[] = "samples_s=";
[[nodiscard]] std::string SamplesLabel(const std::vector<double>& seconds);

// The console line for a row that stopped on time with its noise above the limit: "BM_X:
// stopped at --max_seconds=60 with noise 3.4% over 4 samples, above --max_noise=2"; empty
// for any other row.
[[nodiscard]] std::string NoiseLine(const std::string& name, const StoppingCriterion& c, const SampleRecord& r);

}  // namespace trainbench
