// The memory guard's per-model tables (bench/harness/memory_guard.cc) against the models themselves: a
// model edited in models/models.cc without its footprint fails here, not silently in the guard.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "bench/harness/memory_guard.h"
#include "models/models.h"

namespace trainbench {
namespace {

TEST(MemoryFootprintTest, MatchesTheModelsLayerByLayer) {
  for (ModelKind kind : AllModels()) {
    torch::nn::Sequential model = MakeModel(kind);
    const ModelFootprint f = Footprint(kind);
    EXPECT_EQ(f.parameters, CountParameters(*model)) << ModelName(kind);
    // One sample through the modules one by one, as Sequential::forward does.
    torch::NoGradGuard no_grad;
    model->eval();
    at::Tensor x = torch::zeros({1, 1, 28, 28});
    int64_t activations = 0, largest = 0, pool_outputs = 0;
    for (const auto& child : model->children()) {
      const std::string name = child->name();
      if (name == "torch::nn::FlattenImpl") {
        x = x.flatten(1);  // a view: no memory of its own
        continue;
      }
      if (auto* conv = child->as<torch::nn::Conv2dImpl>())
        x = conv->forward(x);
      else if (auto* bn = child->as<torch::nn::BatchNorm2dImpl>())
        x = bn->forward(x);
      else if (auto* relu = child->as<torch::nn::ReLUImpl>())
        x = relu->forward(x);
      else if (auto* pool = child->as<torch::nn::MaxPool2dImpl>()) {
        x = pool->forward(x);
        pool_outputs += x.numel();
      } else if (auto* linear = child->as<torch::nn::LinearImpl>())
        x = linear->forward(x);
      else
        FAIL() << "unexpected module " << name;
      activations += x.numel();
      largest = std::max<int64_t>(largest, x.numel());
    }
    EXPECT_EQ(x.numel(), 10);
    EXPECT_EQ(f.activation_elements, activations) << ModelName(kind);
    EXPECT_EQ(f.largest_activation_elements, largest) << ModelName(kind);
    EXPECT_EQ(f.pool_index_elements, pool_outputs) << ModelName(kind);
  }
}

}  // namespace
}  // namespace trainbench
