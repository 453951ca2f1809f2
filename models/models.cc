#include "models/models.h"

#include <torch/utils.h>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

namespace trainbench {

namespace {

torch::nn::AnyModule Module(const LayerShape& s) {
  switch (s.layer.kind) {
    case LayerKind::kConv3x3:
      return torch::nn::AnyModule(
          torch::nn::Conv2d(torch::nn::Conv2dOptions(s.in_channels, s.out_channels, /*kernel_size=*/3).padding(1)));
    case LayerKind::kBatchNorm: return torch::nn::AnyModule(torch::nn::BatchNorm2d(s.in_channels));
    case LayerKind::kReLU: return torch::nn::AnyModule(torch::nn::ReLU());
    case LayerKind::kMaxPool2: return torch::nn::AnyModule(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
    case LayerKind::kFlatten: return torch::nn::AnyModule(torch::nn::Flatten());
    case LayerKind::kLinear: return torch::nn::AnyModule(torch::nn::Linear(s.in_features(), s.out_channels));
  }
  return {};
}

}  // namespace

torch::nn::Sequential MakeModel(ModelKind kind) {
  // Layers are constructed (and so initialized from the generator) last to first: the order
  // in which GCC evaluated the arguments of the Sequential(...) each model used to be written
  // as, so that a seed gives the weights, and the losses, it gave in earlier results.
  const std::vector<LayerShape> shapes = Shapes(kind);
  std::vector<torch::nn::AnyModule> modules(shapes.size());
  for (size_t i = shapes.size(); i-- > 0;) modules[i] = Module(shapes[i]);
  torch::nn::Sequential net;
  for (torch::nn::AnyModule& m : modules) net->push_back(std::move(m));
  return net;
}

torch::nn::Sequential SeededModel(ModelKind kind, uint64_t seed) {
  torch::manual_seed(seed);
  return MakeModel(kind);
}

int64_t CountParameters(const torch::nn::Module& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

}  // namespace trainbench
