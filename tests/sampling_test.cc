// bench/families/sampling.h through Google Benchmark itself: a registered benchmark takes
// made-up samples (a fake clock: each sample's seconds come from a list), and the run it
// reports has the iterations, manual time, noise counters and samples label the families
// promise, with the stopping criterion off and on.
#include "bench/families/sampling.h"

#include <benchmark/benchmark.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"

namespace trainbench {
namespace {

class Capture : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override { runs_.insert(runs_.end(), runs.begin(), runs.end()); }
  std::vector<Run> runs_;
};

// Runs one benchmark named name that takes the samples in sequence (in order, from the
// first) under criterion c, registered as a family registers it; returns its one run.
benchmark::BenchmarkReporter::Run RunWith(const std::string& name, const StoppingCriterion& c, int64_t fixed,
                                          std::vector<double> sequence, int64_t iterations_per_sample = 1) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [c, sequence, iterations_per_sample](benchmark::State& state) {
    size_t next = 0;
    const SampleRecord r = TakeSamples(
        state, c, [&] { return sequence.at(next++); }, iterations_per_sample);
    AddNoiseCounters(r, state);
  });
  b->UseManualTime();
  if (const int64_t n = RegisterIterations(c, fixed); n > 0) b->Iterations(n);
  Capture capture;
  benchmark::RunSpecifiedBenchmarks(&capture, "^" + name + "(/|$)");  // names end "/iterations:3/manual_time"
  EXPECT_EQ(capture.runs_.size(), 1u);
  return capture.runs_.at(0);
}

TEST(SamplingTest, OffEachIterationIsASampleAndTheRowHasItsNoise) {
  const auto run = RunWith("SamplingOff", StoppingCriterion{}, 3, {1.0, 1.1, 0.9, 5.0});
  EXPECT_EQ(run.iterations, 3);
  EXPECT_NEAR(run.real_accumulated_time, 3.0, 1e-9);  // manual time: the three samples
  EXPECT_NEAR(run.counters.at("noise_pct").value, 10.0, 1e-6);
  EXPECT_EQ(run.counters.at("noise_samples").value, 3.0);
  EXPECT_EQ(run.counters.count("noise_met"), 0u);  // no criterion, nothing to meet
  EXPECT_EQ(run.report_label, "samples_s=1,1.1,0.9");
}

TEST(SamplingTest, ARowOfOneSampleHasNoNoiseRatherThanZero) {
  const auto run = RunWith("SamplingOne", StoppingCriterion{}, 1, {1.0});
  EXPECT_EQ(run.counters.at("noise_samples").value, 1.0);
  EXPECT_EQ(run.counters.count("noise_pct"), 0u);
}

TEST(SamplingTest, OnOneIterationTakesSamplesUntilQuietAndItsTimeIsTheirMean) {
  StoppingCriterion c;
  c.max_noise_pct = 2;
  c.min_samples = 3;
  c.max_seconds = 100;
  std::vector<double> sequence = {2.0, 2.1, 2.0};  // 2.7% noise at 3: it takes more
  sequence.resize(40, 2.0);
  const auto run = RunWith("SamplingQuiet", c, 3, sequence);
  EXPECT_EQ(run.iterations, 1);
  const double n = run.counters.at("noise_samples").value;
  EXPECT_GT(n, 3.0);
  EXPECT_NEAR(run.real_accumulated_time, (2.0 * n + 0.1) / n, 1e-9);  // the mean, per the one iteration
  EXPECT_LE(run.counters.at("noise_pct").value, 2.0);
  EXPECT_EQ(run.counters.at("noise_met").value, 1.0);
}

TEST(SamplingTest, ANoisyRowStopsOnTimeSaysSoAndIsFlagged) {
  StoppingCriterion c;
  c.max_noise_pct = 1;
  c.min_samples = 3;
  c.max_seconds = 5;
  const auto run = RunWith("SamplingNoisy", c, 3, {1, 2, 1, 2, 1, 2});
  EXPECT_EQ(run.counters.at("noise_samples").value, 4.0);  // 6 s of timed work at the 4th
  EXPECT_EQ(run.counters.at("noise_met").value, 0.0);
  SampleRecord r;
  r.seconds = {1, 2, 1, 2};
  r.criterion_on = true;
  r.reason = StopReason::kTime;
  EXPECT_EQ(NoiseLine("BM_X", c, r),
            "BM_X: stopped at --max_seconds=5 with noise 38.5% over 4 samples, above --max_noise=1");
  r.reason = StopReason::kNoise;
  EXPECT_EQ(NoiseLine("BM_X", c, r), "");
}

TEST(SamplingTest, ASampleOfSeveralIterationsReportsPerIterationAndCountsAllItsTime) {
  StoppingCriterion c;
  c.max_noise_pct = 1;
  c.min_samples = 3;
  c.max_seconds = 5;
  // Each sample is 4 iterations: 2 s of work, 0.5 s an iteration; a noisy row stops on time
  // after 3 samples (6 s of work), not after 10 (5 s of per-iteration values).
  const auto run = RunWith("SamplingSpans", c, 0, {2.0, 2.4, 2.0, 2.4, 2.0, 2.4, 2.0, 2.4, 2.0, 2.4, 2.0}, 4);
  EXPECT_EQ(run.counters.at("noise_samples").value, 3.0);
  EXPECT_EQ(run.counters.at("sample_iterations").value, 4.0);
  EXPECT_NEAR(run.real_accumulated_time, (0.5 + 0.6 + 0.5) / 3, 1e-9);  // per iteration
  EXPECT_EQ(run.report_label, "samples_s=0.5,0.6,0.5");
  // Off, a sample is one iteration whatever the family asked (Google Benchmark counts them).
  const auto off = RunWith("SamplingOffSpans", StoppingCriterion{}, 2, {1.0, 1.0}, 4);
  EXPECT_EQ(off.counters.count("sample_iterations"), 0u);
  EXPECT_NEAR(off.real_accumulated_time, 2.0, 1e-9);
}

TEST(SamplingTest, IterationsPerSampleReachTheMinimumSampleTime) {
  EXPECT_EQ(IterationsPerSample(0.003, 0.1), 34);  // a 3 ms CPU step: 102 ms a sample
  EXPECT_EQ(IterationsPerSample(0.1, 0.1), 1);
  EXPECT_EQ(IterationsPerSample(1.3, 0.1), 1);  // a step longer than the minimum is a sample
  EXPECT_EQ(IterationsPerSample(0, 0.1), 1);    // no warm-up time to go on
  EXPECT_EQ(IterationsPerSample(1e-12, 0.1), 1'000'000);
}

TEST(SamplingTest, TheLabelKeepsAtMostItsCapOfSamples) {
  const std::vector<double> many(kMaxLabelSamples + 10, 0.25);
  const std::string label = SamplesLabel(many);
  EXPECT_TRUE(absl::StartsWith(label, kSamplesLabelPrefix));
  EXPECT_EQ(std::count(label.begin(), label.end(), ','), static_cast<ptrdiff_t>(kMaxLabelSamples - 1));
}

}  // namespace
}  // namespace trainbench
