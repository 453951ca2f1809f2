// bench/harness/flag_checks.h: numeric flags with bounds that depend on the machine.
#include "bench/harness/flag_checks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace trainbench {
namespace {

TEST(FlagChecksTest, CpuThreadsUpToFourTimesTheCores) {
  EXPECT_TRUE(CheckCpuThreads(0, 2).ok());
  EXPECT_TRUE(CheckCpuThreads(8, 2).ok());
  EXPECT_EQ(CheckCpuThreads(9, 2).message(), "--cpu_threads=9: out of range 0..8 (4x the 2 cores)");
  EXPECT_EQ(CheckCpuThreads(-1, 2).message(), "--cpu_threads=-1: out of range 0..8 (4x the 2 cores)");
}

TEST(FlagChecksTest, EveryRangedValueIsFiniteAndWithinItsRange) {
  const FlagRange& warmup = *FindFlagRange("warmup_seconds");
  EXPECT_TRUE(CheckFlagRange(warmup, 0).ok());
  EXPECT_TRUE(CheckFlagRange(warmup, 3600).ok());
  EXPECT_TRUE(CheckFlagRange(warmup, -1).ok());  // the default's meaning
  const std::string tail = ": out of range 0..3600 s, or -1 (the default: 0.5 s on cuda, none on cpu)";
  EXPECT_EQ(CheckFlagRange(warmup, std::numeric_limits<double>::infinity()).message(), "--warmup_seconds=inf" + tail);
  EXPECT_EQ(CheckFlagRange(warmup, 1e308).message(), "--warmup_seconds=1e+308" + tail);
  EXPECT_EQ(CheckFlagRange(warmup, std::nan("")).message(), "--warmup_seconds=nan" + tail);
  EXPECT_EQ(CheckFlagRange(warmup, -2).message(), "--warmup_seconds=-2" + tail);
  EXPECT_EQ(CheckFlagRange(warmup, 3600.5).message(), "--warmup_seconds=3600.5" + tail);
  const FlagRange& repetitions = *FindFlagRange("benchmark_repetitions");
  EXPECT_TRUE(CheckFlagRange(repetitions, 1).ok());
  EXPECT_EQ(CheckFlagRange(repetitions, -1).message(), "--benchmark_repetitions=-1: out of range 1..100000");
  EXPECT_EQ(CheckFlagRange(repetitions, 0).message(), "--benchmark_repetitions=0: out of range 1..100000");
  EXPECT_EQ(FindFlagRange("no_such_flag"), nullptr);
}

TEST(FlagChecksTest, EveryRangeIsOrderedAndItsExtraValueOutsideIt) {
  for (const FlagRange& r : kFlagRanges) {
    SCOPED_TRACE(std::string(r.flag));
    EXPECT_LT(r.least, r.most);
    EXPECT_TRUE(CheckFlagRange(r, r.least).ok());
    EXPECT_TRUE(CheckFlagRange(r, r.most).ok());
    EXPECT_FALSE(CheckFlagRange(r, std::numeric_limits<double>::infinity()).ok());
    if (r.also) {
      EXPECT_TRUE(*r.also < r.least || *r.also > r.most);
      EXPECT_FALSE(r.also_means.empty());
    }
  }
}

}  // namespace
}  // namespace trainbench
