// common/axes.cc: the axis names and their parsers, and which precision runs on which device.
#include "common/axes.h"
#include "models/model_table.h"

#include "absl/strings/ascii.h"

#include <gtest/gtest.h>

namespace trainbench {
namespace {

TEST(AxesTest, EveryNameParsesBackCaseInsensitively) {
  for (ModelKind m : AllModels()) {
    EXPECT_EQ(*ParseModel(ModelName(m)), m);
    EXPECT_EQ(*ParseModel(absl::AsciiStrToUpper(ModelName(m))), m);
  }
  for (Precision p : kAllPrecisions) EXPECT_EQ(*ParsePrecision(PrecisionName(p)), p);
  for (DeviceKind d : {DeviceKind::kCpu, DeviceKind::kCuda}) EXPECT_EQ(*ParseDevice(DeviceName(d)), d);
  for (AdamKind a : {AdamKind::kFused, AdamKind::kLoop}) EXPECT_EQ(*ParseAdam(AdamName(a)), a);
}

TEST(AxesTest, UnknownValuesNameTheFlagAndValue) {
  EXPECT_EQ(ParseModel("Huge").status().message(), "--model=Huge: unknown model (expected Small, Medium or Large)");
  EXPECT_EQ(ParsePrecision("int8").status().message(),
            "--precision=int8: unknown precision (expected fp32, tf32, fp16 or bf16)");
  EXPECT_EQ(ParseDevice("mps").status().message(), "--device=mps: unknown device (expected cpu or cuda)");
  EXPECT_EQ(ParseAdam("sgd").status().message(), "--adam=sgd: unknown Adam update (expected fused or loop)");
}

TEST(PrecisionTest, CpuRunsFp32AndBf16Only) {
  EXPECT_FALSE(UnsupportedPrecision(Precision::kFp32, DeviceKind::kCpu).has_value());
  EXPECT_FALSE(UnsupportedPrecision(Precision::kBf16, DeviceKind::kCpu).has_value());
  EXPECT_TRUE(UnsupportedPrecision(Precision::kTf32, DeviceKind::kCpu).has_value());
  EXPECT_TRUE(UnsupportedPrecision(Precision::kFp16, DeviceKind::kCpu).has_value());
  for (Precision p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16}) {
    EXPECT_FALSE(UnsupportedPrecision(p, DeviceKind::kCuda).has_value());
  }
}

}  // namespace
}  // namespace trainbench
