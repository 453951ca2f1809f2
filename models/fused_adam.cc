#include "models/fused_adam.h"

#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_foreach_sub.h>
#include <ATen/ops/_fused_adam.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>

namespace trainbench {
namespace {

// torch::optim::AdamOptions' defaults.
constexpr double kBeta1 = 0.9;
constexpr double kBeta2 = 0.999;
constexpr double kEps = 1e-8;

}  // namespace

FusedAdam::FusedAdam(std::vector<at::Tensor> params, double lr) : lr_(lr), params_(std::move(params)) {
  for (const at::Tensor& p : params_) {
    exp_avgs_.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
    exp_avg_sqs_.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
    steps_.push_back(at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(p.device())));
  }
}

std::vector<at::Tensor> FusedAdam::state() const {
  std::vector<at::Tensor> all = exp_avgs_;
  all.insert(all.end(), exp_avg_sqs_.begin(), exp_avg_sqs_.end());
  all.insert(all.end(), steps_.begin(), steps_.end());
  return all;
}

void FusedAdam::ZeroGrad() {
  for (at::Tensor& p : params_) p.mutable_grad().reset();
}

std::vector<at::Tensor> FusedAdam::Gradients() const {
  std::vector<at::Tensor> grads;
  grads.reserve(params_.size());
  for (const at::Tensor& p : params_) grads.push_back(p.grad());
  return grads;
}

void FusedAdam::Step(const std::optional<at::Tensor>& grad_scale, const std::optional<at::Tensor>& found_inf) {
  // Every parameter of these models gets a gradient; an undefined one is a caller bug and
  // the kernel's own check names it.
  const std::vector<at::Tensor> grads = Gradients();
  // As torch.optim.Adam(fused=True): count first (the kernel reads the new count for the
  // bias corrections), then take a skipped step back out.
  at::_foreach_add_(steps_, 1);
  at::_fused_adam_(params_, grads, exp_avgs_, exp_avg_sqs_, /*max_exp_avg_sqs=*/{}, steps_, lr_, kBeta1, kBeta2,
                   /*weight_decay=*/0.0, kEps, /*amsgrad=*/false,
                   /*maximize=*/false, grad_scale, found_inf);
  if (found_inf) at::_foreach_sub_(steps_, std::vector<at::Tensor>(steps_.size(), *found_inf));
}

}  // namespace trainbench
