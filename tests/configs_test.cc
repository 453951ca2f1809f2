// bench/suite/configs.h through the axis flags: the product's configurations, their names and
// the errors naming a flag and its value (EpochConfigs and StepConfigs with flags given).
#include "bench/suite/configs.h"

#include <array>
#include <map>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "bench/suite/lab_suite.h"

namespace trainbench {
namespace {

TEST(AxisFlagsTest, ProductOfGivenValuesWithLabDefaults) {
  AxisFlags f;
  f["batch"] = {"16", "64"};
  f["model"] = {"small", "Large"};
  absl::StatusOr<std::vector<EpochConfig>> c = EpochConfigs(f, /*cuda_available=*/false);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 4u);
  EXPECT_EQ(BenchmarkName((*c)[0]),
            "BM_TrainEpoch/batch:16/model:Small/workers:2/precision:fp32/pin:0/device:cpu/graph:0");
  EXPECT_EQ(BenchmarkName((*c)[3]),
            "BM_TrainEpoch/batch:64/model:Large/workers:2/precision:fp32/pin:0/device:cpu/graph:0");
  // With a GPU the defaults are the lab's: cuda, 4 workers, pinned.
  absl::StatusOr<std::vector<EpochConfig>> g = EpochConfigs(f, true);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(BenchmarkName((*g)[0]),
            "BM_TrainEpoch/batch:16/model:Small/workers:4/precision:fp32/pin:1/device:cuda/graph:0");
}

TEST(AxisFlagsTest, DuplicatesCollapseAndCpuDropsPinnedCombinations) {
  AxisFlags f;
  f["batch"] = {"64", "64"};
  f["pin"] = {"0", "1"};
  f["device"] = {"cpu", "cuda"};
  absl::StatusOr<std::vector<EpochConfig>> c = EpochConfigs(f, true);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 3u);  // cpu pin0, cuda pin0, cuda pin1
  for (const EpochConfig& e : *c) EXPECT_FALSE(e.device == DeviceKind::kCpu && e.pin);
}

TEST(AxisFlagsTest, BadValuesNameTheFlagAndValue) {
  // axis, its one value, what the error starts with (no GPU on this machine).
  const std::vector<std::array<std::string, 3>> cases = {
      {"batch", "abc", "--batch=abc: not an integer"},
      {"batch", "0", "--batch=0: out of range"},
      {"model", "Huge", "--model=Huge: unknown model"},
      {"workers", "-1", "--workers=-1: out of range"},
      {"precision", "fp8", "--precision=fp8: unknown precision"},
      {"pin", "2", "--pin=2: out of range"},
      {"device", "tpu", "--device=tpu: unknown device"},
      {"device", "cuda", "--device=cuda: no CUDA GPU is available"},
      {"pin", "1", "--pin=1: pinned memory exists only with --device=cuda"},
  };
  for (const auto& [axis, value, want] : cases) {
    AxisFlags f;
    f[axis] = {value};
    absl::StatusOr<std::vector<EpochConfig>> c = EpochConfigs(f, /*cuda_available=*/false);
    ASSERT_FALSE(c.ok()) << want;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << want;
    EXPECT_TRUE(absl::StartsWith(c.status().message(), want)) << c.status().message();
    EXPECT_EQ(c.status().message().find('\n'), std::string::npos) << want << ": one line";
  }
}

TEST(AxisFlagsTest, StepConfigsUseSharedAxes) {
  AxisFlags f;
  f["model"] = {"Small"};
  f["batch"] = {"16", "256"};
  f["workers"] = {"4"};  // not an axis of BM_TrainStep: ignored there
  absl::StatusOr<std::vector<StepConfig>> c = StepConfigs(f, false);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ(BenchmarkName((*c)[1]), "BM_TrainStep/batch:256/model:Small/precision:fp32/device:cpu/graph:0");
}

}  // namespace
}  // namespace trainbench
