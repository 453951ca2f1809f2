#include "models/model_table.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/axes.h"
#include "common/json.h"

namespace trainbench {
namespace {

constexpr int64_t kInputChannels = 1, kInputSide = 28;  // Fashion-MNIST, 1x28x28

Layer Conv(int64_t out) { return {LayerKind::kConv3x3, out}; }
Layer Linear(int64_t out) { return {LayerKind::kLinear, out}; }
constexpr Layer kBn{LayerKind::kBatchNorm}, kRelu{LayerKind::kReLU}, kPool{LayerKind::kMaxPool2},
    kFlatten{LayerKind::kFlatten};

// The models. Parameters: Small 26,698; Medium 421,642; Large 6,798,730.
const std::vector<ModelSpec>& Models() {
  static const auto* const models = new std::vector<ModelSpec>{
      {ModelKind::kSmall,
       "Small",  // 8x14x14, then 16x7x7
       {Conv(8), kRelu, kPool, Conv(16), kRelu, kPool, kFlatten, Linear(32), kRelu, Linear(10)}},
      {ModelKind::kMedium,
       "Medium",  // 32x14x14, then 64x7x7
       {Conv(32), kRelu, kPool, Conv(64), kRelu, kPool, kFlatten, Linear(128), kRelu, Linear(10)}},
      {ModelKind::kLarge,
       "Large",  // 64x28x28, 128x14x14, 256x7x7
       {Conv(64), kBn, kRelu, Conv(128), kBn, kRelu, kPool, Conv(256), kBn, kRelu, kPool, kFlatten, Linear(512), kRelu,
        Linear(10)}},
  };
  return *models;
}

}  // namespace

absl::Span<const ModelSpec> ModelSpecs() { return Models(); }

const ModelSpec& Spec(ModelKind kind) {
  for (const ModelSpec& m : Models()) {
    if (m.kind == kind) return m;
  }
  std::fprintf(stderr, "trainbench: model %d has no row in kModels\n", static_cast<int>(kind));
  std::abort();  // a ModelKind without its table row; model_table_test covers every kind
}

std::vector<ModelKind> AllModels() {
  std::vector<ModelKind> out;
  for (const ModelSpec& m : Models()) out.push_back(m.kind);
  return out;
}

absl::string_view ModelName(ModelKind m) { return Spec(m).name; }

absl::StatusOr<ModelKind> ParseModel(absl::string_view s) {
  std::vector<std::string> names;
  for (const ModelSpec& m : Models()) {
    if (absl::EqualsIgnoreCase(s, m.name)) return m.kind;
    names.emplace_back(m.name);
  }
  const std::string last = names.back();
  names.pop_back();
  return FlagError("model", s, absl::StrCat("unknown model (expected ", absl::StrJoin(names, ", "), " or ", last, ")"));
}

absl::string_view LayerName(LayerKind k) {
  switch (k) {
    case LayerKind::kConv3x3: return "conv3x3";
    case LayerKind::kBatchNorm: return "batchnorm";
    case LayerKind::kReLU: return "relu";
    case LayerKind::kMaxPool2: return "maxpool2";
    case LayerKind::kFlatten: return "flatten";
    case LayerKind::kLinear: return "linear";
  }
  return "?";
}

std::vector<LayerShape> Shapes(ModelKind kind) {
  std::vector<LayerShape> out;
  int64_t c = kInputChannels, h = kInputSide, w = kInputSide;
  for (const Layer& l : Spec(kind).layers) {
    LayerShape s{l, c, h, w, c, h, w};
    switch (l.kind) {
      case LayerKind::kConv3x3:  // padding 1: the same height and width
        s.out_channels = l.out;
        s.parameters = c * l.out * 9 + l.out;
        s.forward_flops = 2.0 * static_cast<double>(c * 9) * static_cast<double>(l.out * h * w);
        break;
      case LayerKind::kBatchNorm: s.parameters = 2 * c; break;
      case LayerKind::kReLU: break;
      case LayerKind::kMaxPool2:
        s.out_height = h / 2;
        s.out_width = w / 2;
        break;
      case LayerKind::kFlatten:
        s.out_channels = c * h * w;
        s.out_height = s.out_width = 1;
        break;
      case LayerKind::kLinear:
        s.out_channels = l.out;
        s.parameters = s.in_features() * l.out + l.out;
        s.forward_flops = 2.0 * static_cast<double>(s.in_features()) * static_cast<double>(l.out);
        break;
    }
    c = s.out_channels;
    h = s.out_height;
    w = s.out_width;
    out.push_back(s);
  }
  return out;
}

int64_t Parameters(ModelKind kind) {
  int64_t n = 0;
  for (const LayerShape& s : Shapes(kind)) n += s.parameters;
  return n;
}

double ForwardFlopsPerSample(ModelKind kind) {
  double flops = 0;
  for (const LayerShape& s : Shapes(kind)) flops += s.forward_flops;
  return flops;
}

ModelFootprint Footprint(ModelKind kind) {
  ModelFootprint f;
  for (const LayerShape& s : Shapes(kind)) {
    f.parameters += s.parameters;
    if (s.layer.kind == LayerKind::kFlatten) continue;  // a view: no memory of its own
    f.activation_elements += s.out_elements();
    f.largest_activation_elements = std::max(f.largest_activation_elements, s.out_elements());
    if (s.layer.kind == LayerKind::kMaxPool2) f.pool_index_elements += s.out_elements();
  }
  return f;
}

std::string ModelsJson() {
  std::vector<std::string> models;
  for (const ModelSpec& m : Models()) {
    std::vector<std::string> layers;
    for (const LayerShape& s : Shapes(m.kind)) {
      const bool sized = s.layer.kind == LayerKind::kConv3x3 || s.layer.kind == LayerKind::kLinear;
      const int64_t in = s.layer.kind == LayerKind::kLinear ? s.in_features() : s.in_channels;
      layers.push_back(absl::StrCat("{\"layer\": ", JsonString(LayerName(s.layer.kind)),
                                    sized ? absl::StrCat(", \"in\": ", in, ", \"out\": ", s.layer.out) : "",
                                    ", \"parameters\": ", s.parameters, "}"));
    }
    models.push_back(absl::StrCat("{\"name\": ", JsonString(m.name), ", \"parameters\": ", Parameters(m.kind),
                                  ", \"forward_flops_per_sample\": ",
                                  static_cast<int64_t>(ForwardFlopsPerSample(m.kind)),  // whole FLOPs
                                  ", \"layers\": [", absl::StrJoin(layers, ", "), "]}"));
  }
  return absl::StrCat("{\"models\": [", absl::StrJoin(models, ", "), "]}");
}

}  // namespace trainbench
