// The lab's models: exact parameter counts, output shapes, and the FLOP counts BM_TrainStep
// turns into tflops.
#include <gtest/gtest.h>

#include <ATen/ops/randn.h>

#include "models/models.h"

namespace trainbench {
namespace {

TEST(ModelsTest, ParameterCountsMatchTheSpecification) {
  EXPECT_EQ(CountParameters(*MakeModel(ModelKind::kSmall)), 26698);
  EXPECT_EQ(CountParameters(*MakeModel(ModelKind::kMedium)), 421642);
  EXPECT_EQ(CountParameters(*MakeModel(ModelKind::kLarge)), 6798730);
}

TEST(ModelsTest, OutputIsTenLogitsPerSample) {
  for (ModelKind m : {ModelKind::kSmall, ModelKind::kMedium, ModelKind::kLarge}) {
    torch::nn::Sequential model = MakeModel(m);
    const at::Tensor out = model->forward(at::randn({3, 1, 28, 28}));
    EXPECT_EQ(out.sizes(), (at::IntArrayRef{3, 10})) << ModelName(m);
  }
}

TEST(ModelsTest, ForwardFlopsCountedFromLayerShapes) {
  // Small: conv 1->8 at 28x28, conv 8->16 at 14x14, linear 784->32, linear 32->10.
  const double small = 2.0 * (1 * 9 * 8 * 28 * 28 + 8 * 9 * 16 * 14 * 14 + 784 * 32 + 32 * 10);
  EXPECT_DOUBLE_EQ(ForwardFlopsPerSample(ModelKind::kSmall), small);
  // Large: conv 1->64 and 64->128 at 28x28, 128->256 at 14x14, linear 12544->512, 512->10.
  const double large =
      2.0 * (1.0 * 9 * 64 * 784 + 64.0 * 9 * 128 * 784 + 128.0 * 9 * 256 * 196 + 12544.0 * 512 + 512.0 * 10);
  EXPECT_DOUBLE_EQ(ForwardFlopsPerSample(ModelKind::kLarge), large);
  EXPECT_LT(ForwardFlopsPerSample(ModelKind::kSmall), ForwardFlopsPerSample(ModelKind::kMedium));
  EXPECT_LT(ForwardFlopsPerSample(ModelKind::kMedium), ForwardFlopsPerSample(ModelKind::kLarge));
}

}  // namespace
}  // namespace trainbench
