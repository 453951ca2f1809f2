// The memory guard: before a benchmark allocates its batches and activations, what it
// will need is estimated from the model's layer shapes and the batch, and set against what the
// device can still give (bench/harness/harness.cc: FitsInMemoryOrSkip). A benchmark that would not fit is
// skipped with "needs about X GiB, Y GiB available" instead of being killed by the kernel's
// out-of-memory killer with the rest of the run. --no_memory_guard turns it off.
//
// The estimate is deliberately on the high side (every layer's output counted as kept for the
// backward pass, fp32 whatever the precision): it only has to tell "fits" from "cannot fit",
// and a skip near the limit costs less than a killed run. Against peak RSS measured on CPU here
// it is 1.2x (Small, Medium) to 2x (Large, whose BatchNorm outputs autograd does not keep)
// high. Torch-free; tests/memory_footprint_test.cc checks the per-model tables against the
// models themselves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bench/suite/lab_suite.h"

namespace trainbench {

// BM_TrainStep keeps up to this many distinct batches resident and steps on them in turn,
// so that, as in an epoch, a step reads input it did not just read, and the model does not
// overfit one batch. Measured on the 2-core dev VM (CPU, batch 64): one batch ran Small at 11.7k samples/s
// against 8.1k with 8 (its input stayed in cache); Medium was within run-to-run noise.
inline constexpr int64_t kMaxResidentBatches = 8;

// Estimated bytes a benchmark needs beyond what the process holds before it starts. For a CUDA
// benchmark device_bytes is GPU memory and host_bytes host memory; on CPU both are host memory.
struct MemoryNeed {
  int64_t device_bytes = 0;
  int64_t host_bytes = 0;
};

// One optimizer step at batch samples, fp32: the activations kept for backward (plus the input
// and the pooling indices), two more of the largest activation for the gradients in flight, the
// parameters with their gradients and Adam's two moments, and the evaluation forward pass
// (1000 samples, no gradients) that follows BM_TrainEpoch's epochs.
[[nodiscard]] int64_t TrainingBytes(ModelKind model, int64_t batch);

// BM_TrainEpoch: training on batches of min(batch, train_count) samples (the loader keeps a
// smaller last batch) plus the loader's batches in flight (host) and two staged on the device.
[[nodiscard]] MemoryNeed EpochNeed(const EpochConfig& c, int64_t train_count);
// BM_TrainStep: training at the full batch plus up to 8 resident batches on the device.
[[nodiscard]] MemoryNeed StepNeed(const StepConfig& c, int64_t train_count);
// BM_DataLoader: the loader's batches in flight (host memory only).
[[nodiscard]] MemoryNeed LoaderNeed(const LoaderConfig& c, int64_t train_count);

// Bytes of one batch of samples images (1x28x28 float) and labels (int64).
[[nodiscard]] int64_t BatchBytes(int64_t samples);

// The skip message when need_bytes does not fit: "needs about 171.3 GiB, 21.9 GiB available".
// A benchmark fits when it needs at most 90% of what is available: the estimate is not exact,
// and the allocator, the loader threads and the rest of the system need room too. Absent when
// it fits, or when nothing is known about what is available.
[[nodiscard]] std::optional<std::string> MemoryShortfall(int64_t need_bytes, std::optional<int64_t> available_bytes);

}  // namespace trainbench
