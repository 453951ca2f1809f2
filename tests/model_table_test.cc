// models/model_table.h: each model's derived numbers against the lab's specification, and the
// "models" context the tools check their own models against.
#include "models/model_table.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace trainbench {
namespace {

TEST(ModelTableTest, ParametersAreTheLabsCounts) {
  // The lab's specification: Small 26,698; Medium 421,642; Large 6,798,730.
  EXPECT_EQ(Parameters(ModelKind::kSmall), 26698);
  EXPECT_EQ(Parameters(ModelKind::kMedium), 421642);
  EXPECT_EQ(Parameters(ModelKind::kLarge), 6798730);
}

TEST(ModelTableTest, EveryModelEndsInTenClassesAndHasItsRow) {
  EXPECT_EQ(AllModels().size(), ModelSpecs().size());
  for (ModelKind m : AllModels()) {
    const std::vector<LayerShape> shapes = Shapes(m);
    ASSERT_FALSE(shapes.empty()) << ModelName(m);
    EXPECT_EQ(shapes.back().out_elements(), 10) << ModelName(m);
    EXPECT_EQ(*ParseModel(ModelName(m)), m);
    EXPECT_EQ(Footprint(m).parameters, Parameters(m));
  }
}

TEST(ModelTableTest, SmallFlopsAndFootprintFromItsShapes) {
  // conv 1->8 at 28x28, conv 8->16 at 14x14, linear 784->32, linear 32->10; 2 FLOPs per MAC.
  EXPECT_DOUBLE_EQ(ForwardFlopsPerSample(ModelKind::kSmall),
                   2.0 * (1 * 9 * 8 * 28 * 28 + 8 * 9 * 16 * 14 * 14 + 784 * 32 + 32 * 10));
  const ModelFootprint f = Footprint(ModelKind::kSmall);
  // conv 8x28x28, relu, pool 8x14x14, conv 16x14x14, relu, pool 16x7x7, fc 32, relu, fc 10
  EXPECT_EQ(f.activation_elements, 6272 + 6272 + 1568 + 3136 + 3136 + 784 + 32 + 32 + 10);
  EXPECT_EQ(f.largest_activation_elements, 6272);
  EXPECT_EQ(f.pool_index_elements, 1568 + 784);
}

TEST(ModelTableTest, UnknownModelNamesTheFlagAndTheChoices) {
  EXPECT_EQ(ParseModel("Huge").status().message(), "--model=Huge: unknown model (expected Small, Medium or Large)");
  EXPECT_EQ(*ParseModel("large"), ModelKind::kLarge);
}

TEST(ModelTableTest, ContextListsEveryLayerWithItsParameters) {
  const std::string json = ModelsJson();
  EXPECT_TRUE(absl::StartsWith(json,
                               "{\"models\": [{\"name\": \"Small\", \"parameters\": 26698, "
                               "\"forward_flops_per_sample\": 615296, \"layers\": [{\"layer\": \"conv3x3\", "
                               "\"in\": 1, \"out\": 8, \"parameters\": 80}, {\"layer\": \"relu\", \"parameters\": 0}"))
      << json.substr(0, 300);
  EXPECT_TRUE(absl::StrContains(json, "{\"layer\": \"linear\", \"in\": 12544, \"out\": 512, \"parameters\": 6423040}"));
  EXPECT_TRUE(absl::StrContains(json, "{\"layer\": \"batchnorm\", \"parameters\": 512}"));
}

}  // namespace
}  // namespace trainbench
