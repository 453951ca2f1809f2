// The lab's models as LibTorch networks, built from their layer tables (models/model_table.h).
#pragma once

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "models/model_table.h"

namespace trainbench {

// A freshly initialized model (from torch's current default generator) on the CPU.
torch::nn::Sequential MakeModel(ModelKind kind);

// MakeModel(kind) with torch's default generator seeded with seed first.
torch::nn::Sequential SeededModel(ModelKind kind, uint64_t seed);

[[nodiscard]] int64_t CountParameters(const torch::nn::Module& model);

}  // namespace trainbench
