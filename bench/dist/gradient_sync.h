// Data-parallel gradient sync over a world's process group (bench/dist/distributed.h), as
// DistributedDataParallel does it. Apart from distributed.h so that only the training code
// includes the trainer's headers.
#pragma once

#include <cstdint>
#include <memory>

#include "bench/dist/distributed.h"
#include "models/trainer.h"

namespace trainbench {

// Gradient averaging for a data-parallel replica of a model, as DistributedDataParallel does
// it, with its engine: the parameters are checked against rank 0's
// (verify_params_across_processes) and broadcast from it with the buffers; c10d::Reducer then
// all-reduces the gradients during backward, bucket by bucket as each one's gradients are
// ready, and averages them (one bucket for the first step, then rebuilt in gradient order:
// 1 MiB first, then bucket_bytes). Buffers (BatchNorm statistics) are broadcast from rank 0
// before every synced forward (DDP's broadcast_buffers=True).
// REQUIRES: Rendezvous has succeeded; every rank builds it, in the same order, for the same
// model; model outlives it.
class GradientSync final : public StepHooks {
 public:
  static constexpr int64_t kDefaultBucketBytes = 25 * 1024 * 1024;  // DDP's bucket_cap_mb=25
  GradientSync(const WorldComm& dist, torch::nn::Module& model, int64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientSync() override;
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // false: backward runs with no all-reduce and forward with no buffer broadcast (DDP's
  // no_sync() from its second step), each rank on its own.
  void set_enabled(bool enabled) { enabled_ = enabled; }

  // Rank 0's buffers on every rank now (before evaluating a replica, say).
  void SyncBuffers();

  // The gradient buckets the reducer all-reduces, each as soon as its gradients are ready:
  // one before the first synced step, then as rebuilt in gradient order (1 MiB first, then
  // bucket_bytes each; DDP's ddp_buckets).
  [[nodiscard]] int64_t buckets() const;

  void BeforeForward() override;
  void BeforeBackward(const at::Tensor& loss) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool enabled_ = true;
};

}  // namespace trainbench
