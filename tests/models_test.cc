// The lab's models: exact parameter counts, output shapes, and the FLOP counts BM_TrainStep
// turns into tflops.
#include <gtest/gtest.h>

#include <ATen/ops/randn.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/utils.h>

#include "models/models.h"

namespace trainbench {
namespace {

TEST(ModelsTest, ParameterCountsMatchTheSpecification) {
  EXPECT_EQ(CountParameters(*MakeModel(ModelKind::kSmall)), 26698);
  EXPECT_EQ(CountParameters(*MakeModel(ModelKind::kMedium)), 421642);
  EXPECT_EQ(CountParameters(*MakeModel(ModelKind::kLarge)), 6798730);
}

TEST(ModelsTest, OutputIsTenLogitsPerSample) {
  for (ModelKind m : AllModels()) {
    torch::nn::Sequential model = MakeModel(m);
    const at::Tensor out = model->forward(at::randn({3, 1, 28, 28}));
    EXPECT_EQ(out.sizes(), (at::IntArrayRef{3, 10})) << ModelName(m);
  }
}

// A seed gives the weights it gave when Small was written out as one Sequential(...) call,
// whose arguments GCC constructs last to first: earlier results' losses stay reproducible.
TEST(ModelsTest, ASeedGivesTheWeightsOfTheWrittenOutNetwork) {
  using namespace torch::nn;
  torch::manual_seed(7);
  Sequential written(Conv2d(Conv2dOptions(1, 8, 3).padding(1)), ReLU(), MaxPool2d(MaxPool2dOptions(2)),
                     Conv2d(Conv2dOptions(8, 16, 3).padding(1)), ReLU(), MaxPool2d(MaxPool2dOptions(2)), Flatten(),
                     Linear(784, 32), ReLU(), Linear(32, 10));
  torch::manual_seed(7);
  Sequential built = MakeModel(ModelKind::kSmall);
  const auto a = written->parameters(), b = built->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].equal(b[i])) << "parameter " << i;
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
