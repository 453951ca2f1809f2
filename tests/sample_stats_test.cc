// common/sample_stats.h: the noise of a row's samples, the stopping rule on known sequences
// (a fake clock: each sample's seconds are the clock), and warm-up stability.
#include "common/sample_stats.h"

#include <gtest/gtest.h>

#include <limits>

#include <vector>

namespace trainbench {
namespace {

TEST(SampleStatsTest, NoiseIsTheRelativeSampleStandardDeviationInPercent) {
  const SampleStats s = Summarize(std::vector<double>{1.0, 1.1, 0.9});
  EXPECT_EQ(s.count, 3);
  EXPECT_DOUBLE_EQ(s.mean, 1.0);
  EXPECT_NEAR(s.stddev, 0.1, 1e-12);  // n - 1: sqrt((0.01 + 0.01) / 2)
  EXPECT_NEAR(s.noise_pct, 10.0, 1e-9);
  EXPECT_EQ(Summarize(std::vector<double>{2.0}).noise_pct, 0.0);  // one sample: no spread to speak of
  EXPECT_EQ(Summarize(std::vector<double>{}).count, 0);
  EXPECT_EQ(Summarize(std::vector<double>{3, 3, 3, 3}).noise_pct, 0.0);
}

// Feeds samples one by one, as a row takes them, and returns how many it took and why it stopped.
std::pair<size_t, StopReason> TakeSamples(const StoppingCriterion& c, const std::vector<double>& sequence) {
  std::vector<double> taken;
  double timed = 0;
  for (double x : sequence) {
    taken.push_back(x);
    timed += x;
    if (const auto why = ShouldStop(c, taken, timed)) return {taken.size(), *why};
  }
  ADD_FAILURE() << "never stopped";
  return {taken.size(), StopReason::kCount};
}

TEST(SampleStatsTest, OffTheCriterionEachSampleIsAnIterationOfItsOwnWhateverTheNoise) {
  EXPECT_EQ(TakeSamples(StoppingCriterion{}, {1, 5, 9, 9}), std::make_pair(size_t{1}, StopReason::kCount));
}

TEST(SampleStatsTest, OnItStopsAtTheFirstQuietWindowAfterMinSamples) {
  StoppingCriterion c;
  c.max_noise_pct = 2;
  c.min_samples = 3;
  c.max_seconds = 1000;
  // 1.00, 1.00 is quiet but under min_samples; 1.05 makes it noisy (2.8%); it takes more until
  // the whole set's noise is under 2%.
  std::vector<double> seq = {1.0, 1.0, 1.05};
  seq.resize(30, 1.0);
  const auto [n, why] = TakeSamples(c, seq);
  EXPECT_EQ(why, StopReason::kNoise);
  std::vector<double> taken(seq.begin(), seq.begin() + static_cast<ptrdiff_t>(n));
  EXPECT_LE(Summarize(taken).noise_pct, 2.0);
  taken.pop_back();
  EXPECT_GT(Summarize(taken).noise_pct, 2.0) << "it should have stopped one sample earlier";
  EXPECT_EQ(TakeSamples(c, {1.0, 1.0, 1.0}), std::make_pair(size_t{3}, StopReason::kNoise));
}

TEST(SampleStatsTest, ANoisyRowStopsOnTimeButNotBeforeMinSamples) {
  StoppingCriterion c;
  c.max_noise_pct = 1;
  c.min_samples = 3;
  c.max_seconds = 5;
  EXPECT_EQ(TakeSamples(c, {1, 2, 1, 2, 1, 2}), std::make_pair(size_t{4}, StopReason::kTime));  // 6 s of work at 4
  // A sample longer than the limit: still 3 of them, the spread of a slow row.
  EXPECT_EQ(TakeSamples(c, {6, 7, 6, 7}), std::make_pair(size_t{3}, StopReason::kTime));
  c.min_samples = 10;
  EXPECT_EQ(TakeSamples(c, std::vector<double>(12, 1.0)), std::make_pair(size_t{10}, StopReason::kNoise));
  std::vector<double> noisy = {1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2};
  EXPECT_EQ(TakeSamples(c, noisy), std::make_pair(size_t{10}, StopReason::kTime));
  EXPECT_STREQ(StopReasonName(StopReason::kTime), "time");
}

TEST(SampleStatsTest, WarmupEndsWhenTheLastWindowIsSteadyAfterTheFloorOrAtTheCeiling) {
  WarmupStability w;
  w.floor_steps = 4;
  w.window_steps = 3;
  w.tolerance_pct = 5;
  w.ceiling_steps = 8;
  const auto settled_after = [&](const std::vector<double>& steps) {
    std::vector<double> seen;
    for (double s : steps) {
      seen.push_back(s);
      if (WarmupSettled(w, seen)) return seen.size();
    }
    return size_t{0};
  };
  // The first steps are slow (allocator, kernels loading), then steady at 1.0.
  EXPECT_EQ(settled_after({9, 3, 1.0, 1.02, 0.99, 1.0}), 5u);
  // Steady from the first step: still the floor.
  EXPECT_EQ(settled_after({1, 1, 1, 1, 1}), 4u);
  // Never steady: the ceiling.
  EXPECT_EQ(settled_after({1, 2, 1, 2, 1, 2, 1, 2, 1, 2}), 8u);
}

TEST(SampleStatsTest, ASampleThatIsNotANumberStopsTheRow) {
  StoppingCriterion c;
  c.max_noise_pct = 1;
  c.min_samples = 3;
  c.max_seconds = 5;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(TakeSamples(c, {1, nan, 1, 1, 1, 1, 1, 1, 1}), std::make_pair(size_t{2}, StopReason::kTime));
  EXPECT_EQ(ShouldStop(c, {1, 1, 2}, std::numeric_limits<double>::infinity()), StopReason::kTime);
}

TEST(SampleStatsTest, MedianOfLastLooksOnlyAtTheTail) {
  const std::vector<double> v = {100, 100, 3, 1, 2};
  EXPECT_EQ(MedianOfLast(v, 3), 2.0);
  EXPECT_EQ(MedianOfLast(v, 10), 3.0);  // all five
  EXPECT_EQ(MedianOfLast(v, 2), 2.0);   // of {1, 2}, the upper
  EXPECT_EQ(MedianOfLast({}, 5), 0.0);
}

}  // namespace
}  // namespace trainbench
