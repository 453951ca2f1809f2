#include "models/models.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

namespace trainbench {
namespace {

using torch::nn::BatchNorm2d;
using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;
using torch::nn::Flatten;
using torch::nn::Linear;
using torch::nn::MaxPool2d;
using torch::nn::MaxPool2dOptions;
using torch::nn::ReLU;

Conv2d Conv3x3(int64_t in, int64_t out) {
  return Conv2d(Conv2dOptions(in, out, /*kernel_size=*/3).padding(1));
}
MaxPool2d Pool() { return MaxPool2d(MaxPool2dOptions(/*kernel_size=*/2)); }

// One layer's shape, enough to count its FLOPs.
struct LayerShape {
  bool conv;          // else linear
  int64_t in, out;    // channels or features
  int64_t spatial;    // output height = width for a conv (pixels), 1 for linear
};

std::vector<LayerShape> Shapes(ModelKind kind) {
  switch (kind) {
    case ModelKind::kSmall:
      return {{true, 1, 8, 28}, {true, 8, 16, 14}, {false, 784, 32, 1}, {false, 32, 10, 1}};
    case ModelKind::kMedium:
      return {{true, 1, 32, 28}, {true, 32, 64, 14}, {false, 3136, 128, 1}, {false, 128, 10, 1}};
    case ModelKind::kLarge:
      return {{true, 1, 64, 28},      {true, 64, 128, 28},   {true, 128, 256, 14},
              {false, 12544, 512, 1}, {false, 512, 10, 1}};
  }
  return {};
}

}  // namespace

torch::nn::Sequential MakeModel(ModelKind kind) {
  switch (kind) {
    case ModelKind::kSmall:
      return torch::nn::Sequential(Conv3x3(1, 8), ReLU(), Pool(),     // 8x14x14
                                   Conv3x3(8, 16), ReLU(), Pool(),    // 16x7x7
                                   Flatten(), Linear(784, 32), ReLU(), Linear(32, 10));
    case ModelKind::kMedium:
      return torch::nn::Sequential(Conv3x3(1, 32), ReLU(), Pool(),    // 32x14x14
                                   Conv3x3(32, 64), ReLU(), Pool(),   // 64x7x7
                                   Flatten(), Linear(3136, 128), ReLU(), Linear(128, 10));
    case ModelKind::kLarge:
      return torch::nn::Sequential(Conv3x3(1, 64), BatchNorm2d(64), ReLU(),            // 64x28x28
                                   Conv3x3(64, 128), BatchNorm2d(128), ReLU(), Pool(), // 128x14x14
                                   Conv3x3(128, 256), BatchNorm2d(256), ReLU(), Pool(),// 256x7x7
                                   Flatten(), Linear(12544, 512), ReLU(), Linear(512, 10));
  }
  return {};
}

int64_t CountParameters(const torch::nn::Module& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

double ForwardFlopsPerSample(ModelKind kind) {
  double flops = 0;
  for (const LayerShape& l : Shapes(kind)) {
    const double macs_per_output = l.conv ? static_cast<double>(l.in) * 9 : static_cast<double>(l.in);
    flops += 2.0 * macs_per_output * static_cast<double>(l.out * l.spatial * l.spatial);
  }
  return flops;
}

}  // namespace trainbench
