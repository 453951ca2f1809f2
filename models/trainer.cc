#include "models/trainer.h"

#include <stdexcept>

#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <ATen/ops/_amp_foreach_non_finite_check_and_unscale.h>
#include <ATen/ops/_amp_update_scale.h>
#include <ATen/ops/full.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include "fixtures/transform.h"
#include "models/models.h"

namespace trainbench {
namespace {

// Autocast for one forward pass: forward and loss only, never backward. The cast cache is
// cleared on exit, or it would keep stale casts of the weights across optimizer steps. The
// previous state is restored, as torch.autocast's __exit__ does.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, c10::ScalarType dtype)
      : device_(device),
        was_enabled_(at::autocast::is_autocast_enabled(device)),
        previous_dtype_(at::autocast::get_autocast_dtype(device)) {
    at::autocast::set_autocast_enabled(device_, true);
    at::autocast::set_autocast_dtype(device_, dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(device_, was_enabled_);
    at::autocast::set_autocast_dtype(device_, previous_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool was_enabled_;
  c10::ScalarType previous_dtype_;
};

std::optional<c10::ScalarType> AutocastType(Precision p) {
  switch (p) {
    case Precision::kFp16: return c10::kHalf;
    case Precision::kBf16: return c10::kBFloat16;
    default: return std::nullopt;  // fp32 and tf32 run without autocast
  }
}

}  // namespace

LossScaler::LossScaler(c10::Device device, double init_scale, double growth_factor, double backoff_factor,
                       int64_t growth_interval)
    : scale_(at::full({}, init_scale, at::TensorOptions().device(device).dtype(at::kFloat))),
      growth_tracker_(at::zeros({}, at::TensorOptions().device(device).dtype(at::kInt))),
      found_inf_(at::zeros({}, at::TensorOptions().device(device).dtype(at::kFloat))),
      one_(at::ones({}, at::TensorOptions().device(device).dtype(at::kFloat))),
      skipped_(at::zeros({}, at::TensorOptions().device(device).dtype(at::kFloat))),
      growth_factor_(growth_factor),
      backoff_factor_(backoff_factor),
      growth_interval_(growth_interval) {}

bool LossScaler::UnscaleAndUpdate(torch::optim::Optimizer& optimizer) {
  std::vector<at::Tensor> grads;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
  }
  found_inf_.zero_();
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, scale_.reciprocal());
  const bool finite = found_inf_.item<float>() == 0.0f;
  Update();
  return finite;
}

void LossScaler::CheckFinite(const std::vector<at::Tensor>& grads) {
  found_inf_.zero_();
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, one_);
}

void LossScaler::Update() {
  skipped_.add_(found_inf_);
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, growth_factor_, backoff_factor_, growth_interval_);
}

double LossScaler::scale() const { return scale_.item<double>(); }

int64_t LossScaler::skipped_steps() const { return static_cast<int64_t>(skipped_.item<double>()); }

Trainer::Trainer(ModelKind model, Precision precision, DeviceContext& ctx, uint64_t seed, AdamKind adam,
                 bool channels_last)
    : Trainer(SeededModel(model, seed), precision, ctx, adam, channels_last) {}

Trainer::Trainer(torch::nn::Sequential model, Precision precision, DeviceContext& ctx, AdamKind adam,
                 bool channels_last)
    : ctx_(ctx), precision_(precision), model_(std::move(model)) {
  model_->to(ctx_.device());
  if (channels_last) {
    torch::NoGradGuard no_grad;
    for (at::Tensor& p : model_->parameters()) {
      // Not p.contiguous(ChannelsLast): a 1-input-channel weight already counts as
      // channels_last-contiguous, keeps NCHW strides, and cuDNN would then keep the first
      // convolution (and its activation, Large's largest) in NCHW.
      if (p.dim() == 4) {
        p.set_data(at::empty(p.sizes(), p.options().memory_format(at::MemoryFormat::ChannelsLast)).copy_(p));
      }
    }
  }
  model_->train();
  constexpr double kLr = 1e-3;
  if (adam == AdamKind::kFused) {
    fused_.emplace(model_->parameters(), kLr);
  } else {
    optimizer_ = std::make_unique<torch::optim::Adam>(model_->parameters(), torch::optim::AdamOptions(kLr));
  }
  if (precision_ == Precision::kFp16) scaler_.emplace(ctx_.device());
}

at::Tensor Trainer::ForwardLoss(const at::Tensor& images, const at::Tensor& labels) {
  std::optional<AutocastScope> autocast;
  if (auto dtype = AutocastType(precision_)) autocast.emplace(ctx_.device().type(), *dtype);
  return torch::nn::functional::cross_entropy(model_->forward(images), labels);
}

at::Tensor Trainer::Step(const at::Tensor& images, const at::Tensor& labels) {
  if (graph_ && images.size(0) == static_images_.size(0)) {
    static_images_.copy_(images, /*non_blocking=*/true);  // device to device, stream-ordered
    static_labels_.copy_(labels, /*non_blocking=*/true);
    graph_->Replay();
    return static_loss_;
  }
  return EagerStep(images, labels);
}

void Trainer::CaptureStep(const at::Tensor& images, const at::Tensor& labels) {
  if (!fused_) {
    throw std::invalid_argument("graph:1 needs the fused Adam update (--adam=fused)");
  }
  static_images_ = images.clone();
  static_labels_ = labels.clone();
  absl::StatusOr<std::unique_ptr<StepGraph>> g =
      ctx_.CaptureGraph([this] { static_loss_ = EagerStep(static_images_, static_labels_); }, kGraphWarmupSteps);
  if (!g.ok()) throw std::runtime_error(std::string(g.status().message()));
  graph_ = *std::move(g);
}

void Trainer::ForwardBackward(const at::Tensor& images, const at::Tensor& labels) {
  const at::Tensor loss = ForwardLoss(images, labels);
  (scaler_ ? scaler_->Scale(loss) : loss).backward();
  if (fused_) {
    fused_->ZeroGrad();
  } else {
    optimizer_->zero_grad();
  }
}

at::Tensor Trainer::EagerStep(const at::Tensor& images, const at::Tensor& labels) {
  if (hooks_ != nullptr) hooks_->BeforeForward();
  // The loss backward runs on: the hooks see it first (DDP's prepare_for_backward).
  const auto backward = [this](const at::Tensor& loss) {
    if (hooks_ != nullptr) hooks_->BeforeBackward(loss);
    loss.backward();
  };
  if (fused_) {
    fused_->ZeroGrad();
    at::Tensor loss = ForwardLoss(images, labels);
    if (scaler_) {
      backward(scaler_->Scale(loss));
      scaler_->CheckFinite(fused_->Gradients());
      fused_->Step(scaler_->scale_tensor(), scaler_->found_inf());
      scaler_->Update();
    } else {
      backward(loss);
      fused_->Step();
    }
    return loss.detach();
  }
  optimizer_->zero_grad();
  at::Tensor loss = ForwardLoss(images, labels);
  if (scaler_) {
    backward(scaler_->Scale(loss));
    if (scaler_->UnscaleAndUpdate(*optimizer_)) optimizer_->step();
  } else {
    backward(loss);
    optimizer_->step();
  }
  return loss.detach();
}

double Trainer::Evaluate(const ImageSet& set, int64_t eval_batch) {
  return set.count == 0 ? 0.0 : static_cast<double>(CountCorrect(set, 0, set.count, eval_batch)) / set.count;
}

int64_t Trainer::CountCorrect(const ImageSet& set, int64_t begin, int64_t end, int64_t eval_batch) {
  // Inference mode, not just no-grad: no autograd records and no version counters on the
  // evaluation's tensors (the pass is untimed, but it is machine time every row pays).
  c10::InferenceMode inference;
  model_->eval();
  std::optional<AutocastScope> autocast;
  if (auto dtype = AutocastType(precision_)) autocast.emplace(ctx_.device().type(), *dtype);
  at::Tensor correct = at::zeros({}, at::TensorOptions().device(ctx_.device()).dtype(at::kLong));
  at::Tensor images = at::empty({eval_batch, 1, kImageSide, kImageSide}, at::kFloat);
  at::Tensor labels = at::empty({eval_batch}, at::kLong);
  for (int64_t first = begin; first < end; first += eval_batch) {
    const int64_t n = std::min(eval_batch, end - first);
    MakeEvalBatch(set, first, n, images.data_ptr<float>(), labels.data_ptr<int64_t>());
    // Blocking copies: the host buffers are refilled on the next pass.
    const at::Tensor x = images.narrow(0, 0, n).to(ctx_.device());
    const at::Tensor y = labels.narrow(0, 0, n).to(ctx_.device());
    correct += model_->forward(x).argmax(1).eq(y).sum();
  }
  model_->train();
  return correct.item<int64_t>();
}

int64_t Trainer::parameter_count() const { return CountParameters(*model_); }

namespace {

// AdamParamState's copy shares its tensors, which Adam updates in place: a copy of its own,
// on device (the host for the snapshot, so that the device's memory peaks never see it).
std::unique_ptr<torch::optim::OptimizerParamState> DeepCopy(const torch::optim::OptimizerParamState& state,
                                                            at::Device device) {
  const auto& adam = static_cast<const torch::optim::AdamParamState&>(state);
  const auto copy_of = [device](const at::Tensor& t) { return t.to(device, /*non_blocking=*/false, /*copy=*/true); };
  auto copy = std::make_unique<torch::optim::AdamParamState>();
  copy->step(adam.step());
  copy->exp_avg(copy_of(adam.exp_avg()));
  copy->exp_avg_sq(copy_of(adam.exp_avg_sq()));
  if (adam.max_exp_avg_sq().defined()) copy->max_exp_avg_sq(copy_of(adam.max_exp_avg_sq()));
  return copy;
}

}  // namespace

TrainingSnapshot::TrainingSnapshot(Trainer& trainer) : trainer_(trainer) {
  torch::NoGradGuard no_grad;
  live_ = trainer.model_->parameters();
  for (const at::Tensor& b : trainer.model_->buffers()) live_.push_back(b);
  if (trainer.fused_) {
    for (const at::Tensor& t : trainer.fused_->state()) live_.push_back(t);
  }
  if (trainer.scaler_) {
    for (const at::Tensor& t : trainer.scaler_->state()) live_.push_back(t);
  }
  saved_.reserve(live_.size());
  // On the host: the device's memory peaks (reset after the warm-up) never see the copies.
  for (const at::Tensor& t : live_) saved_.push_back(t.detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true));
  if (trainer.optimizer_) {
    for (const auto& [key, state] : trainer.optimizer_->state()) {
      loop_state_.emplace_back(key, DeepCopy(*state, at::kCPU));
    }
  }
}

void TrainingSnapshot::Restore() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < live_.size(); ++i) live_[i].copy_(saved_[i]);
  if (trainer_.optimizer_) {
    auto& state = trainer_.optimizer_->state();
    state.clear();  // what the warm-up's steps created goes; what existed before comes back
    const at::Device device = trainer_.model_->parameters().front().device();
    for (const auto& [key, saved] : loop_state_) {
      state[key] = DeepCopy(*saved, device);
    }
  }
}

}  // namespace trainbench
