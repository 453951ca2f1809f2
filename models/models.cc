#include "models/models.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

namespace trainbench {

torch::nn::Sequential MakeModel(ModelKind kind) {
  torch::nn::Sequential net;
  for (const LayerShape& s : Shapes(kind)) {
    switch (s.layer.kind) {
      case LayerKind::kConv3x3:
        net->push_back(
            torch::nn::Conv2d(torch::nn::Conv2dOptions(s.in_channels, s.out_channels, /*kernel_size=*/3).padding(1)));
        break;
      case LayerKind::kBatchNorm: net->push_back(torch::nn::BatchNorm2d(s.in_channels)); break;
      case LayerKind::kReLU: net->push_back(torch::nn::ReLU()); break;
      case LayerKind::kMaxPool2:
        net->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(/*kernel_size=*/2)));
        break;
      case LayerKind::kFlatten: net->push_back(torch::nn::Flatten()); break;
      case LayerKind::kLinear: net->push_back(torch::nn::Linear(s.in_features(), s.out_channels)); break;
    }
  }
  return net;
}

int64_t CountParameters(const torch::nn::Module& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

}  // namespace trainbench
