// bench/harness/flag_checks.h: numeric flags with bounds that depend on the machine.
#include "bench/harness/flag_checks.h"

#include <gtest/gtest.h>

namespace trainbench {
namespace {

TEST(FlagChecksTest, CpuThreadsUpToFourTimesTheCores) {
  EXPECT_TRUE(CheckCpuThreads(0, 2).ok());
  EXPECT_TRUE(CheckCpuThreads(8, 2).ok());
  EXPECT_EQ(CheckCpuThreads(9, 2).message(), "--cpu_threads=9: out of range 0..8 (4x the 2 cores)");
  EXPECT_EQ(CheckCpuThreads(-1, 2).message(), "--cpu_threads=-1: out of range 0..8 (4x the 2 cores)");
}

}  // namespace
}  // namespace trainbench
