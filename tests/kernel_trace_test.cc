// Kernel busy time from trace intervals: overlaps count once, the window cuts, gaps are idle.
// The CUPTI loading itself is checked where it can fail here: a library that is not there.
#include <gtest/gtest.h>

#include "fixtures/kernel_trace.h"

namespace trainbench {
namespace {

TEST(CoveredNsTest, OverlapsCountOnceAndGapsAreIdle) {
  // [10,20) and [15,30) overlap: 20 ns; [40,50): 10 ns; the gap 30..40 is idle.
  EXPECT_EQ(CoveredNs({{40, 50}, {10, 20}, {15, 30}}, 0, 100), 30u);
  // Nested intervals add nothing.
  EXPECT_EQ(CoveredNs({{10, 90}, {20, 30}, {50, 60}}, 0, 100), 80u);
}

TEST(CoveredNsTest, TheWindowCutsIntervals) {
  EXPECT_EQ(CoveredNs({{0, 30}, {80, 200}}, 20, 100), 10u + 20u);
  EXPECT_EQ(CoveredNs({{0, 10}, {200, 300}}, 20, 100), 0u);  // all outside
  EXPECT_EQ(CoveredNs({}, 0, 100), 0u);
}

TEST(KernelTracerTest, AMissingLibraryIsUnavailableNotFatal) {
#ifdef TRAINBENCH_WITH_CUDA
  absl::StatusOr<std::unique_ptr<KernelTracer>> t = KernelTracer::Load({"libno-such-cupti.so.0"});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(t.status().message().find("libcupti not found"), std::string::npos) << t.status();
#else
  GTEST_SKIP() << "LibTorch here has no CUDA: the CUPTI tracer is not compiled";
#endif
}

}  // namespace
}  // namespace trainbench
