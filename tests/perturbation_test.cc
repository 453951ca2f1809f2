// bench/harness/perturbation.h: the watchdog's stall rule, SIGCONT counting, and how two marks
// become a row's pauses. A real SIGSTOP of the binary is tests/test_faults_round_two.py's.
#include "bench/harness/perturbation.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "absl/strings/match.h"

namespace trainbench {
namespace {

constexpr int64_t kMs = 1'000'000;  // nanoseconds

TEST(PerturbationTest, AGapIsAStallFromTheStallGapOnAndCostsWhatIsBeyondOneTick) {
  EXPECT_EQ(StalledNanoseconds(50 * kMs, 50 * kMs, 1000 * kMs), 0);
  EXPECT_EQ(StalledNanoseconds(999 * kMs, 50 * kMs, 1000 * kMs), 0);  // a late wake-up, not a stall
  EXPECT_EQ(StalledNanoseconds(1000 * kMs, 50 * kMs, 1000 * kMs), 950 * kMs);
  EXPECT_EQ(StalledNanoseconds(6050 * kMs, 50 * kMs, 1000 * kMs), 6000 * kMs);  // a 6 s SIGSTOP
}

TEST(PerturbationTest, ASigstopSeenByBothDetectorsIsOnePause) {
  const PerturbationMark before{3, 1, 2000 * kMs};
  const Perturbation p = PerturbationBetween(before, {4, 2, 8000 * kMs});
  EXPECT_EQ(p.pauses, 1);
  EXPECT_DOUBLE_EQ(p.paused_seconds, 6.0);
  EXPECT_TRUE(p.any());
  // A short stop: its SIGCONT only, no stall time.
  const Perturbation short_stop = PerturbationBetween(before, {5, 1, 2000 * kMs});
  EXPECT_EQ(short_stop.pauses, 2);
  EXPECT_DOUBLE_EQ(short_stop.paused_seconds, 0.0);
  // A suspend: a stall and no SIGCONT.
  EXPECT_EQ(PerturbationBetween(before, {3, 2, 3000 * kMs}).pauses, 1);
  EXPECT_FALSE(PerturbationBetween(before, before).any());
}

TEST(PerturbationTest, EachSigcontIsCountedOnceTheWatchHasStarted) {
  StartPerturbationWatch();
  StartPerturbationWatch();  // a second start neither installs twice nor starts a second watchdog
  const PerturbationMark before = PerturbationNow();
  ASSERT_EQ(raise(SIGCONT), 0);
  ASSERT_EQ(raise(SIGCONT), 0);
  const Perturbation p = PerturbationBetween(before, PerturbationNow());
  EXPECT_EQ(p.pauses, 2);
  EXPECT_DOUBLE_EQ(p.paused_seconds, 0.0);  // the watchdog saw no gap: the process never stopped
}

TEST(PerturbationTest, TheConsoleLineNamesTheRowThePausesAndWhatTheToolsDo) {
  const std::string line = PerturbedLine("BM_TrainEpoch/batch:64", Perturbation{1, 6.04});
  EXPECT_EQ(line,
            "BM_TrainEpoch/batch:64: perturbed: the process was paused 1 time(s) for 6.0 s while it ran; its "
            "numbers are not comparable (tools/compare.py does not judge it)");
}

}  // namespace
}  // namespace trainbench
