#include "bench/harness/memory_guard.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "fixtures/dataset.h"

namespace trainbench {
namespace {

constexpr int64_t kImageElements = 28 * 28;
constexpr int64_t kFloatBytes = 4;
constexpr int64_t kIndexBytes = 8;  // int64 labels and max-pool indices
// Parameters, their gradients, Adam's exp_avg and exp_avg_sq, and a half-precision copy under
// autocast: 5 values per parameter at most 4 bytes each.
constexpr int64_t kBytesPerParameter = 5 * kFloatBytes;
constexpr double kBytesPerGiB = 1024.0 * 1024.0 * 1024.0;
// A benchmark fits when it needs at most this share of what is available.
constexpr double kUsableShare = 0.9;

}  // namespace

int64_t BatchBytes(int64_t samples) { return samples * (kImageElements * kFloatBytes + kIndexBytes); }

int64_t TrainingBytes(ModelKind model, int64_t batch) {
  const ModelFootprint f = Footprint(model);
  // Backward holds the gradient flowing into and out of a layer next to what is kept: two
  // more of the largest activation.
  const int64_t per_sample =
      kFloatBytes * (kImageElements + f.activation_elements + 2 * f.largest_activation_elements) +
      kIndexBytes * f.pool_index_elements;
  // Evaluation: no graph is kept, so at most two consecutive outputs exist at a time.
  const int64_t eval_bytes = kEvalBatch * kFloatBytes * (kImageElements + 2 * f.largest_activation_elements);
  return kBytesPerParameter * f.parameters + std::max(batch * per_sample, eval_bytes);
}

MemoryNeed EpochNeed(const EpochConfig& c, int64_t train_count) {
  const int64_t batch = std::max<int64_t>(1, std::min(c.batch, train_count));
  // The loader builds up to 2 batches per worker ahead (1 on the training thread without
  // workers), plus the one being trained on and the one staged next.
  const int64_t host_batches = (c.workers == 0 ? 1 : 2 * c.workers) + 2;
  MemoryNeed need;
  need.host_bytes = host_batches * BatchBytes(batch);
  need.device_bytes = TrainingBytes(c.model, batch);
  if (c.device == DeviceKind::kCuda) need.device_bytes += 2 * BatchBytes(batch);
  return need;
}

MemoryNeed StepNeed(const StepConfig& c, int64_t train_count) {
  const int64_t resident = std::clamp<int64_t>(train_count / std::max<int64_t>(1, c.batch), 1, kMaxResidentBatches);
  MemoryNeed need;
  need.device_bytes = TrainingBytes(c.model, c.batch) + resident * BatchBytes(c.batch);
  // Each resident batch is built on the host first, one at a time.
  need.host_bytes = BatchBytes(c.batch);
  return need;
}

MemoryNeed LoaderNeed(const LoaderConfig& c, int64_t train_count) {
  const int64_t batch = std::max<int64_t>(1, std::min(c.batch, train_count));
  MemoryNeed need;
  need.host_bytes = ((c.workers == 0 ? 1 : 2 * c.workers) + 1) * BatchBytes(batch);
  return need;
}

std::optional<std::string> MemoryShortfall(int64_t need_bytes, std::optional<int64_t> available_bytes) {
  if (!available_bytes) return std::nullopt;
  if (static_cast<double>(need_bytes) <= kUsableShare * static_cast<double>(*available_bytes)) {
    return std::nullopt;
  }
  return absl::StrFormat("needs about %.1f GiB, %.1f GiB available", need_bytes / kBytesPerGiB,
                         *available_bytes / kBytesPerGiB);
}

}  // namespace trainbench
