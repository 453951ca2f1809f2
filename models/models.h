// The lab's three Fashion-MNIST classifiers, exactly as specified so that results compare
// with other implementations: input 1x28x28, 10 classes, 3x3 convolutions with padding 1,
// 2x2 max pooling. Parameter counts: Small 26,698; Medium 421,642; Large 6,798,730.
#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "common/axes.h"

namespace trainbench {

// A freshly initialized model (from torch's current default generator) on the CPU.
torch::nn::Sequential MakeModel(ModelKind kind);

[[nodiscard]] int64_t CountParameters(const torch::nn::Module& model);

// FLOPs of one forward pass of one sample, counted from the convolution and linear layer
// shapes at 2 FLOPs per multiply-add. Pooling, ReLU and BatchNorm are left out: under 1% here.
[[nodiscard]] double ForwardFlopsPerSample(ModelKind kind);

}  // namespace trainbench
