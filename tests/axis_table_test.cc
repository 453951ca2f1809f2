// bench/suite/axis_table.h: the axis flags' values, the product, exclusions and the context.
#include "bench/suite/axis_table.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace trainbench {
namespace {

TEST(AxisFlagsTest, SplitsCommaListsAndTrims) {
  EXPECT_EQ(SplitAxisValues({"16, 64", "256", ""}), (std::vector<std::string>{"16", "64", "256"}));
}

TEST(AxisTableTest, EmptyAxisValuesAreErrors) {
  EXPECT_TRUE(CheckAxisValue("batch", "16,64").ok());
  EXPECT_TRUE(CheckAxisValue("batch", " 16 , 64 ").ok());
  EXPECT_EQ(CheckAxisValue("batch", "").message(), "--batch=: empty value (leave the flag out for the lab sweep)");
  EXPECT_EQ(CheckAxisValue("model", " ").message(), "--model= : empty value (leave the flag out for the lab sweep)");
  EXPECT_EQ(CheckAxisValue("batch", "16,,64").message(), "--batch=16,,64: empty value in the list");
  EXPECT_EQ(CheckAxisValue("workers", "0,").message(), "--workers=0,: empty value in the list");
}

TEST(AxisTableTest, ProductIsInTableOrderAndNamedInTheFamilysOrder) {
  const std::vector<absl::string_view> axes = {"batch", "pin", "device"};
  AxisFlags f;
  f["batch"] = {"16", "64"};
  f["device"] = {"cpu", "cuda"};
  absl::StatusOr<std::vector<AxisValues>> p = Points(axes, f, /*cuda_available=*/true);
  ASSERT_TRUE(p.ok()) << p.status();
  // device is outer to pin in the table (pin's unset value reads it): cpu pin:0, cuda pin:1.
  ASSERT_EQ(p->size(), 4u);
  EXPECT_EQ((*p)[0], (AxisValues{{"batch", "16"}, {"pin", "0"}, {"device", "cpu"}}));
  EXPECT_EQ((*p)[1], (AxisValues{{"batch", "16"}, {"pin", "1"}, {"device", "cuda"}}));
  EXPECT_EQ((*p)[3], (AxisValues{{"batch", "64"}, {"pin", "1"}, {"device", "cuda"}}));
}

TEST(AxisTableTest, AValueThatNeverRunsIsDroppedOrAnErrorAsItsAxisSays) {
  AxisFlags f;
  f["pin"] = {"0", "1"};
  f["device"] = {"cpu"};
  // pin: the cpu rows run pin:0, and pin:1 is dropped; only pin:1 alone is an error.
  absl::StatusOr<std::vector<AxisValues>> p = Points({"pin", "device"}, f, true);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, (std::vector<AxisValues>{{{"pin", "0"}, {"device", "cpu"}}}));
  f["pin"] = {"1"};
  EXPECT_EQ(Points({"pin", "device"}, f, true).status().message(),
            "--pin=1: pinned memory exists only with --device=cuda");
  // graph: a value that never runs is an error even when other rows do.
  AxisFlags g;
  g["graph"] = {"0", "1"};
  g["device"] = {"cpu"};
  EXPECT_EQ(Points({"device", "graph"}, g, true).status().message(),
            "--graph=1: CUDA graphs exist only with --device=cuda");
  g["device"] = {"cpu", "cuda"};
  p = Points({"device", "graph"}, g, true);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->size(), 3u);  // cpu graph:0, cuda graph:0, cuda graph:1
}

TEST(AxisTableTest, ValuesAreSpeltAsInNamesAndDuplicatesCollapse) {
  AxisFlags f;
  f["model"] = {"small", "SMALL", "Large"};
  f["batch"] = {"064"};
  absl::StatusOr<std::vector<AxisValues>> p = Points({"batch", "model"}, f, false);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p,
            (std::vector<AxisValues>{{{"batch", "64"}, {"model", "Small"}}, {{"batch", "64"}, {"model", "Large"}}}));
}

TEST(AxisTableTest, ContextNamesEveryAxisWithItsFamiliesAndAbsence) {
  const std::string json = AxesJson({{"graph", {"BM_TrainEpoch", "BM_TrainStep"}}, {"ranks", {"BM_TrainEpoch"}}});
  EXPECT_TRUE(absl::StartsWith(json, "{\"axes\": [{\"name\": \"batch\", \"help\": \"Batch sizes"));
  EXPECT_TRUE(absl::StrContains(json, "\"families\": [\"BM_TrainEpoch\", \"BM_TrainStep\"], \"absent\": \"0\"}"));
  EXPECT_TRUE(absl::StrContains(
      json, "{\"name\": \"ranks\", \"help\": \"\", \"families\": [\"BM_TrainEpoch\"], \"absent\": \"1\"}"));
  for (const AxisSpec& a : Axes()) EXPECT_EQ(FindAxis(a.name), &a);
  EXPECT_EQ(FindAxis("dropout"), nullptr);
}

}  // namespace
}  // namespace trainbench
