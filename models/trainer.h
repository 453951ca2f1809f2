// One model being trained: the model, its Adam optimizer (lr 1e-3; fused by default, or
// torch::optim::Adam's per-parameter loop), cross-entropy loss and the precision mode
// (autocast for forward and loss; dynamic loss scaling for fp16). Used by every benchmark
// family and by the tests, so all of them train the same way.
// It does not load data or time anything.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/adam.h>

#include "common/axes.h"
#include "models/model_table.h"
#include "fixtures/dataset.h"
#include "fixtures/device.h"
#include "models/fused_adam.h"

namespace trainbench {

// Dynamic loss scaling for fp16, the state machine of PyTorch's GradScaler: the scale halves
// (backoff) on a step whose gradients hold inf/nan, and that step is skipped; after
// growth_interval finite steps in a row it doubles. State, and the count of skipped steps,
// live on the device.
class LossScaler {
 public:
  LossScaler(c10::Device device, double init_scale = 65536.0, double growth_factor = 2.0, double backoff_factor = 0.5,
             int64_t growth_interval = 2000);

  [[nodiscard]] at::Tensor Scale(const at::Tensor& loss) const { return loss * scale_; }

  // With a per-parameter optimizer: unscales the gradients in place and updates the scale.
  // Returns true when they were finite, i.e. the optimizer step should run. NOTE: reads one
  // flag back from the device (a synchronization per step), as GradScaler.step does then.
  bool UnscaleAndUpdate(torch::optim::Optimizer& optimizer);

  // With the fused optimizer, nothing read back: CheckFinite sets found_inf() from the
  // still-scaled gradients (the fused update unscales them by scale_tensor() and skips the
  // step where found_inf is set); Update, after that step, moves the scale and counts a
  // skipped step.
  void CheckFinite(const std::vector<at::Tensor>& grads);
  void Update();
  [[nodiscard]] const at::Tensor& scale_tensor() const { return scale_; }
  [[nodiscard]] const at::Tensor& found_inf() const { return found_inf_; }

  // NOTE: both read the device (synchronize): call once per benchmark, not per step.
  [[nodiscard]] double scale() const;
  [[nodiscard]] int64_t skipped_steps() const;
  // Handles to the state above, updated in place (Trainer::Snapshot copies and restores it).
  [[nodiscard]] std::vector<at::Tensor> state() const { return {scale_, growth_tracker_, found_inf_, skipped_}; }

 private:
  at::Tensor scale_;           // float32, one element
  at::Tensor growth_tracker_;  // int32, one element: finite steps since the last change
  at::Tensor found_inf_;       // float32, one element: 1 when the last checked grads were not finite
  at::Tensor one_;             // float32 1.0: "unscale" by 1 = check only
  at::Tensor skipped_;         // float32, one element: steps skipped so far
  double growth_factor_, backoff_factor_;
  int64_t growth_interval_;
};

// What a data-parallel wrapper does around each eager step (bench/dist/distributed.h's
// GradientSync, the work torch.nn.parallel.DistributedDataParallel does in forward()).
class StepHooks {
 public:
  virtual ~StepHooks() = default;
  // Before the forward pass: e.g. broadcast buffers (BatchNorm statistics) from rank 0.
  virtual void BeforeForward() = 0;
  // Before backward on loss (the scaled loss with fp16): e.g. arm the gradient reducer.
  virtual void BeforeBackward(const at::Tensor& loss) = 0;
};

class Trainer;

// The training state at one moment: parameters, buffers (BatchNorm's statistics), the
// optimizer's moments and step counts, and the loss scale. A warm-up that lasts until step
// times settle takes a different number of steps on each run and machine; restoring the state
// it started from makes the timed epochs train from the same weights whatever it took, so
// that train_loss and test_acc depend on the flags alone (and compare across machines).
class TrainingSnapshot {
 public:
  // Copies trainer's state now, to host memory (about three times the parameters' bytes with
  // Adam's moments).
  explicit TrainingSnapshot(Trainer& trainer);
  // Puts the copied state back into trainer's own tensors, in place, so that a captured CUDA
  // graph, which reads them by address, trains on the restored values. Can be called again.
  void Restore();

 private:
  Trainer& trainer_;
  std::vector<at::Tensor> live_;   // the trainer's tensors
  std::vector<at::Tensor> saved_;  // their copies, in the same order
  // torch::optim::Adam (AdamKind::kLoop) creates its per-parameter state on the first step:
  // the copies of what existed, keyed by the parameter's TensorImpl (Adam's own key).
  std::vector<std::pair<void*, std::unique_ptr<torch::optim::OptimizerParamState>>> loop_state_;
};

class Trainer {
 public:
  // Seeds torch's generators with seed, then builds the model and moves it to ctx's device.
  // REQUIRES: UnsupportedPrecision(precision, ctx's device) is nullopt.
  // channels_last: 4-D weights (and so the convolutions' activations) in NHWC; the 1-channel
  // input is already compatible.
  Trainer(ModelKind model, Precision precision, DeviceContext& ctx, uint64_t seed, AdamKind adam = AdamKind::kFused,
          bool channels_last = false);
  // A network of the caller's (the lab's models with a variant of a family's own, say), on
  // the CPU as MakeModel returns it; the caller seeds its initialization.
  Trainer(torch::nn::Sequential model, Precision precision, DeviceContext& ctx, AdamKind adam = AdamKind::kFused,
          bool channels_last = false);

  // One optimizer step on a batch already on the device. Returns the batch's mean loss,
  // detached, still on the device (reading it would synchronize). After CaptureStep, a batch
  // of the captured size is copied into the graph's input buffers and the graph replayed;
  // the loss returned is then the graph's output buffer, valid until the next Step.
  at::Tensor Step(const at::Tensor& images, const at::Tensor& labels);

  // Captures the whole step (zero grads, forward and loss under autocast, backward, the
  // fused update with device-side loss scaling) on a batch of images.size(0) samples as a
  // CUDA graph, after kGraphWarmupSteps eager steps on this batch on the capture stream
  // (they train, as warm-up does). Other batch sizes keep running eagerly.
  // REQUIRES: AdamKind::kFused (torch::optim::Adam computes its bias corrections on the
  // host, which a graph would freeze), a device that captures (CUDA). Throws on failure.
  void CaptureStep(const at::Tensor& images, const at::Tensor& labels);
  [[nodiscard]] bool graphed() const { return graph_ != nullptr; }

  // Called around every eager step from now on; null for none. REQUIRES: hooks outlives
  // the steps; not with CaptureStep (the hooks run host code).
  void set_step_hooks(StepHooks* hooks) { hooks_ = hooks; }

  // Forward and backward on a batch with no hooks and no optimizer step, then the gradients
  // zeroed: the parameters and optimizer state are left as they were (BatchNorm's running
  // statistics do move, as in any training-mode forward). A data-parallel
  // benchmark runs it on every rank before any collective, so that a batch that does not fit
  // fails there, where the ranks can still agree to skip it.
  void ForwardBackward(const at::Tensor& images, const at::Tensor& labels);
  static constexpr int kGraphWarmupSteps = 3;

  // Top-1 accuracy (0..1) on a whole image set, untimed, in batches of eval_batch.
  double Evaluate(const ImageSet& set, int64_t eval_batch = kEvalBatch);
  // How many of the samples begin..end of set the model classifies right (Evaluate's count,
  // over a slice: each rank of a data-parallel world takes its own).
  int64_t CountCorrect(const ImageSet& set, int64_t begin, int64_t end, int64_t eval_batch = kEvalBatch);

  [[nodiscard]] int64_t parameter_count() const;
  [[nodiscard]] torch::nn::Sequential& model() { return model_; }
  [[nodiscard]] const LossScaler* scaler() const { return scaler_ ? &*scaler_ : nullptr; }

 private:
  friend class TrainingSnapshot;
  at::Tensor ForwardLoss(const at::Tensor& images, const at::Tensor& labels);
  at::Tensor EagerStep(const at::Tensor& images, const at::Tensor& labels);

  DeviceContext& ctx_;
  Precision precision_;
  torch::nn::Sequential model_;
  std::unique_ptr<torch::optim::Adam> optimizer_;  // AdamKind::kLoop
  std::optional<FusedAdam> fused_;                 // AdamKind::kFused
  std::optional<LossScaler> scaler_;
  // CUDA graph mode: the captured step and its input/output buffers.
  std::unique_ptr<StepGraph> graph_;
  StepHooks* hooks_ = nullptr;
  at::Tensor static_images_, static_labels_, static_loss_;
};

}  // namespace trainbench
