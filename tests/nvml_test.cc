// NVML loading and the utilization sampler, without a GPU: link rates from the PCIe tables,
// graceful failure where the library is missing or is not NVML, and the sampler's mean.
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "fixtures/nvml.h"

namespace trainbench {
namespace {

TEST(PcieTest, TheoreticalRatesPerGeneration) {
  EXPECT_DOUBLE_EQ(PcieTheoreticalGBps({1, 1}), 0.25);
  EXPECT_DOUBLE_EQ(PcieTheoreticalGBps({2, 16}), 8.0);
  EXPECT_NEAR(PcieTheoreticalGBps({3, 16}), 15.754, 1e-3);
  EXPECT_NEAR(PcieTheoreticalGBps({4, 16}), 31.508, 1e-3);
  // The H100's link: gen5 x16, about 63 GB/s each way.
  EXPECT_NEAR(PcieTheoreticalGBps({5, 16}), 63.015, 1e-3);
  EXPECT_NEAR(PcieTheoreticalGBps({6, 16}), 121.0, 1e-3);
  EXPECT_DOUBLE_EQ(PcieTheoreticalGBps({0, 16}), 0.0);
  EXPECT_DOUBLE_EQ(PcieTheoreticalGBps({7, 16}), 0.0);
}

// Issue 20, finding 5: a link read 5 ms into the copies on a cold GPU can still be trained
// down (gen1 x16, 4 GB/s) while the copies ran at 50 GB/s: the share of it was 1250%.
TEST(PcieTest, AShareOfTheLinkNeverExceedsWhatWasMeasured) {
  const PcieLink trained_down{1, 16};  // 4 GB/s
  const PcieLink gen5{5, 16};          // 63 GB/s
  EXPECT_DOUBLE_EQ(*LinkGBpsFor(50.0, gen5, gen5), PcieTheoreticalGBps(gen5));
  // The reading under load is below the measured rate: the maximum link instead.
  EXPECT_DOUBLE_EQ(*LinkGBpsFor(50.0, trained_down, gen5), PcieTheoreticalGBps(gen5));
  EXPECT_DOUBLE_EQ(*LinkGBpsFor(2.0, trained_down, gen5), PcieTheoreticalGBps(trained_down));
  // Even the maximum is below: no share at all rather than one over 100%.
  EXPECT_FALSE(LinkGBpsFor(80.0, trained_down, gen5).has_value());
  EXPECT_FALSE(LinkGBpsFor(1.0, std::nullopt, std::nullopt).has_value());
  EXPECT_DOUBLE_EQ(*LinkGBpsFor(1.0, std::nullopt, gen5), PcieTheoreticalGBps(gen5));
}

TEST(PcieTest, TheFasterOfSeveralReadingsIsKept) {
  std::optional<PcieLink> best;
  for (const PcieLink l : {PcieLink{1, 16}, PcieLink{5, 16}, PcieLink{3, 16}}) best = FasterLink(best, l);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->generation, 5);
  EXPECT_EQ(FasterLink(std::nullopt, std::nullopt).has_value(), false);
}

TEST(NvmlTest, MissingLibraryIsUnavailable) {
  absl::StatusOr<std::unique_ptr<Nvml>> n = Nvml::Load("/nonexistent/libnvidia-ml.so.1");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(n.status().message().find("/nonexistent/libnvidia-ml.so.1"), std::string::npos);
}

TEST(NvmlTest, LibraryWithoutNvmlIsUnavailable) {
  absl::StatusOr<std::unique_ptr<Nvml>> n = Nvml::Load("libz.so.1");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(n.status().message().find("missing NVML entry points"), std::string::npos) << n.status();
}

TEST(UtilizationSamplerTest, AveragesWhatItReads) {
  std::atomic<int> calls{0};
  UtilizationSampler s([&calls]() -> std::optional<int> { return (calls++ % 2 == 0) ? 40 : 80; },
                       std::chrono::milliseconds(1));
  while (calls < 10) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::optional<double> mean = s.Stop();
  ASSERT_TRUE(mean.has_value());
  const int n = calls.load();
  // n samples alternating 40, 80 starting at 40: the mean is 60, or 60 - 20/n for odd n.
  const double expected = (n % 2 == 0) ? 60.0 : (40.0 * ((n + 1) / 2) + 80.0 * (n / 2)) / n;
  EXPECT_DOUBLE_EQ(*mean, expected);
}

TEST(UtilizationSamplerTest, FirstReadWaitsOnePeriod) {
  // NVML's first value would describe the idle time before the epoch: a sampler stopped
  // before one period has passed has read nothing.
  std::atomic<int> calls{0};
  UtilizationSampler s(
      [&calls]() -> std::optional<int> {
        ++calls;
        return 100;
      },
      std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(s.Stop().has_value());
  EXPECT_EQ(calls.load(), 0);
}

TEST(UtilizationSamplerTest, NoReadingsMeansNoValue) {
  UtilizationSampler s([]() -> std::optional<int> { return std::nullopt; }, std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(s.Stop().has_value());
  EXPECT_FALSE(s.Stop().has_value());  // a second Stop is harmless
}

TEST(NvmlNamesTest, LinksAndCudaVersionsAsTheContextSpellsThem) {
  EXPECT_EQ(PcieLinkName(PcieLink{4, 16}), "gen4 x16");
  EXPECT_EQ(PcieLinkName(std::nullopt), "unknown (no NVML)");
  EXPECT_EQ(CudaVersionName(13000), "13.0");
  EXPECT_EQ(CudaVersionName(12080), "12.8");
}

}  // namespace
}  // namespace trainbench
