// Adam as one fused multi-tensor update per step: at::_fused_adam_, the kernel behind
// torch.optim.Adam(fused=True), on CPU and CUDA. torch::optim::Adam instead runs several
// kernels per parameter, which makes a small model's step host-bound on a GPU.
//
// Same math as torch::optim::Adam with its defaults (betas 0.9/0.999, eps 1e-8, no weight
// decay, no amsgrad). Step counts are float32 tensors on the device, one per parameter, so
// nothing is read back; with fp16 loss scaling the gradients are unscaled inside the kernel
// and a step whose gradients hold inf/nan is skipped on the device, step count included.
#pragma once

#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>

namespace trainbench {

class FusedAdam {
 public:
  // REQUIRES: params are leaf tensors on one device, of one floating dtype.
  FusedAdam(std::vector<at::Tensor> params, double lr);

  // Gradients to none (undefined), as Optimizer::zero_grad does by default.
  void ZeroGrad();
  // One update from the parameters' gradients. grad_scale/found_inf (float32, one element,
  // on the device): the gradients are still multiplied by grad_scale, and where found_inf is
  // nonzero the step changes nothing.
  void Step(const std::optional<at::Tensor>& grad_scale = std::nullopt,
            const std::optional<at::Tensor>& found_inf = std::nullopt);

  [[nodiscard]] std::vector<at::Tensor> Gradients() const;
  [[nodiscard]] const std::vector<at::Tensor>& parameters() const { return params_; }
  // The optimizer's state (moments and step counts), as handles to the tensors it updates in
  // place: what a snapshot of the training state copies and puts back (Trainer::Snapshot).
  [[nodiscard]] std::vector<at::Tensor> state() const;

 private:
  double lr_;
  std::vector<at::Tensor> params_;
  std::vector<at::Tensor> exp_avgs_;
  std::vector<at::Tensor> exp_avg_sqs_;
  std::vector<at::Tensor> steps_;  // float32 0-dim, on the parameters' device
};

}  // namespace trainbench
