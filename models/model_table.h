// The lab's Fashion-MNIST classifiers, each declared once as a table of layers (input 1x28x28,
// 10 classes, 3x3 convolutions with padding 1, 2x2 max pooling), exactly as specified so that
// results compare with other implementations. Everything else about a model is derived from
// its table: the network (models/models.h, MakeModel), its parameters, FLOPs per sample and
// the memory footprint the memory guard estimates from. Torch-free.
//
// Adding a model: a ModelKind below and its row in kModels (models/model_table.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace trainbench {

enum class ModelKind { kSmall, kMedium, kLarge };

enum class LayerKind { kConv3x3, kBatchNorm, kReLU, kMaxPool2, kFlatten, kLinear };

struct Layer {
  LayerKind kind;
  int64_t out = 0;  // output channels (conv) or features (linear); unused otherwise
};

struct ModelSpec {
  ModelKind kind;
  absl::string_view name;  // "Small": an interface, as in benchmark names
  std::vector<Layer> layers;
};

// One layer with the shapes around it, for one sample.
struct LayerShape {
  Layer layer;
  int64_t in_channels = 0, in_height = 0, in_width = 0;  // in_height = 1 after Flatten
  int64_t out_channels = 0, out_height = 0, out_width = 0;
  int64_t parameters = 0;    // weights and biases (BatchNorm: weight and bias; its running stats are buffers)
  double forward_flops = 0;  // 2 per multiply-add; 0 for pooling, ReLU, BatchNorm (under 1% here)
  [[nodiscard]] int64_t in_features() const { return in_channels * in_height * in_width; }
  [[nodiscard]] int64_t out_elements() const { return out_channels * out_height * out_width; }
};

[[nodiscard]] absl::Span<const ModelSpec> ModelSpecs();
[[nodiscard]] const ModelSpec& Spec(ModelKind kind);
[[nodiscard]] std::vector<ModelKind> AllModels();
[[nodiscard]] absl::string_view ModelName(ModelKind m);
// Case-insensitive. "--model=Huge: unknown model (expected Small, Medium or Large)".
absl::StatusOr<ModelKind> ParseModel(absl::string_view s);
[[nodiscard]] absl::string_view LayerName(LayerKind k);  // "conv3x3", "batchnorm", ...

// The model's layers with their shapes, from the 1x28x28 input on.
[[nodiscard]] std::vector<LayerShape> Shapes(ModelKind kind);
[[nodiscard]] int64_t Parameters(ModelKind kind);
// FLOPs of one forward pass of one sample (convolution and linear layers).
[[nodiscard]] double ForwardFlopsPerSample(ModelKind kind);

// What one sample costs a model in memory (elements, not bytes).
struct ModelFootprint {
  int64_t parameters = 0;                   // weights and biases
  int64_t activation_elements = 0;          // every layer's output for one sample, summed (Flatten is a view)
  int64_t largest_activation_elements = 0;  // the largest single layer output for one sample
  int64_t pool_index_elements = 0;          // max-pool outputs, whose argmax indices (int64) autograd keeps
};
[[nodiscard]] ModelFootprint Footprint(ModelKind kind);

// The "models" context value: each model's layers with their parameter counts, its
// parameters and forward FLOPs per sample, for the tools (the Python baseline checks its own
// models against it): {"models": [{"name": "Small", "parameters": 26698,
// "forward_flops_per_sample": ..., "layers": [{"layer": "conv3x3", "in": 1, "out": 8,
// "parameters": 80}, ...]}, ...]}
[[nodiscard]] std::string ModelsJson();

}  // namespace trainbench
