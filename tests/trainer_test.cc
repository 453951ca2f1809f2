// models/trainer.cc and models/fused_adam.cc: a short CPU run lowers the loss and is
// reproducible; evaluation; fp16 loss scaling backs off and grows; bf16 on CPU; the fused
// Adam update matches torch::optim::Adam.
#include <chrono>
#include <filesystem>
#include <limits>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <ATen/autocast_mode.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include "bench/harness/harness.h"
#include "fixtures/loader.h"
#include "fixtures/warmup.h"
#include "models/fused_adam.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

// The real data when installed (CI installs it), as the lab trains on it.
const FashionMnist* RealData() {
  static const FashionMnist* data = []() -> const FashionMnist* {
    absl::StatusOr<FashionMnist> d = LoadFashionMnist(DefaultFashionMnistDir(), 1024);
    return d.ok() ? new FashionMnist(*std::move(d)) : nullptr;
  }();
  return data;
}

std::vector<float> TrainLosses(const FashionMnist& data, int steps, int workers) {
  std::unique_ptr<DeviceContext> cpu = MakeCpuContext();
  Trainer trainer(ModelKind::kSmall, Precision::kFp32, *cpu, /*seed=*/0);
  std::vector<float> losses;
  for (int64_t epoch = 0; static_cast<int>(losses.size()) < steps; ++epoch) {
    EpochLoader loader(data.train, LoaderOptions{64, workers, false, 0}, epoch);
    while (auto b = loader.Next()) {
      losses.push_back(trainer.Step(b->images, b->labels).item<float>());
      if (static_cast<int>(losses.size()) == steps) break;
    }
  }
  return losses;
}

TEST(TrainingTest, ShortCpuRunLowersTheLossReproducibly) {
  const FashionMnist* data = RealData();
  if (data == nullptr) GTEST_SKIP() << "Fashion-MNIST not installed at " << DefaultFashionMnistDir();
  const std::vector<float> losses = TrainLosses(*data, 48, /*workers=*/0);
  float first = 0, last = 0;
  for (int i = 0; i < 8; ++i) {
    first += losses[i] / 8;
    last += losses[losses.size() - 1 - i] / 8;
  }
  // ln(10) = 2.30 at the start; 48 Adam steps bring the Small model well below it.
  EXPECT_GT(first, 2.0f);
  EXPECT_LT(last, 0.8f * first) << "first " << first << " last " << last;
  // Same seed, same flags, different loader threads: identical losses.
  EXPECT_EQ(TrainLosses(*data, 48, /*workers=*/2), losses);
}

TEST(TrainingTest, EvaluateCountsCorrectPredictions) {
  FashionMnist d = MakeSyntheticFashionMnist(64, 300, 1);
  std::unique_ptr<DeviceContext> cpu = MakeCpuContext();
  Trainer trainer(ModelKind::kSmall, Precision::kFp32, *cpu, 0);
  // Zero the last layer and give class 3 a bias: every prediction is 3.
  auto params = trainer.model()->parameters();
  {
    torch::NoGradGuard no_grad;
    params[params.size() - 2].zero_();
    params.back().zero_();
    params.back()[3] = 1.0;
  }
  int64_t threes = 0;
  for (uint8_t l : d.test.labels) threes += l == 3 ? 1 : 0;
  EXPECT_DOUBLE_EQ(trainer.Evaluate(d.test, /*eval_batch=*/128), static_cast<double>(threes) / 300);
}

// A model with one parameter whose gradient we set by hand.
struct OneParam {
  at::Tensor w = at::zeros({1}).set_requires_grad(true);
  torch::optim::SGD opt{{w}, torch::optim::SGDOptions(0.1)};
  void SetGrad(float g) { w.mutable_grad() = at::full({1}, g); }
};

TEST(LossScalerTest, BacksOffOnInfAndGrowsAfterTheInterval) {
  OneParam p;
  LossScaler s(c10::Device(c10::kCPU), /*init_scale=*/1024.0, /*growth_factor=*/2.0,
               /*backoff_factor=*/0.5, /*growth_interval=*/3);
  p.SetGrad(std::numeric_limits<float>::infinity());
  EXPECT_FALSE(s.UnscaleAndUpdate(p.opt));
  EXPECT_DOUBLE_EQ(s.scale(), 512.0);
  p.SetGrad(std::numeric_limits<float>::quiet_NaN());
  EXPECT_FALSE(s.UnscaleAndUpdate(p.opt));
  EXPECT_DOUBLE_EQ(s.scale(), 256.0);
  EXPECT_EQ(s.skipped_steps(), 2);
  // Finite gradients are unscaled in place: 512 / 256 = 2.
  for (int i = 0; i < 2; ++i) {
    p.SetGrad(512.0f);
    EXPECT_TRUE(s.UnscaleAndUpdate(p.opt));
    EXPECT_FLOAT_EQ(p.w.grad().item<float>(), 2.0f);
    EXPECT_DOUBLE_EQ(s.scale(), 256.0);  // not yet: 3 finite steps in a row are needed
  }
  p.SetGrad(1.0f);
  EXPECT_TRUE(s.UnscaleAndUpdate(p.opt));
  EXPECT_DOUBLE_EQ(s.scale(), 512.0);
  EXPECT_EQ(s.skipped_steps(), 2);
}

TEST(PrecisionTest, CpuBf16TrainsAndDiffersFromFp32) {
  FashionMnist d = MakeSyntheticFashionMnist(128, 10, 4);
  std::unique_ptr<DeviceContext> cpu = MakeCpuContext();
  EpochLoader loader(d.train, LoaderOptions{128, 0, false, 0}, 0);
  HostBatch b = *loader.Next();
  Trainer fp32(ModelKind::kSmall, Precision::kFp32, *cpu, 0);
  Trainer bf16(ModelKind::kSmall, Precision::kBf16, *cpu, 0);
  const float l32 = fp32.Step(b.images, b.labels).item<float>();
  const float l16 = bf16.Step(b.images, b.labels).item<float>();
  // Same weights and batch: bf16 autocast rounds, so the losses are close but not equal.
  EXPECT_NEAR(l16, l32, 0.05f);
  EXPECT_NE(l16, l32);
  // Autocast is off again after the step.
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
}

// ---- fused Adam against torch::optim::Adam

TEST(FusedAdamTest, MatchesTorchOptimAdamAfter50Steps) {
  FashionMnist d = MakeSyntheticFashionMnist(50 * 32, 10, 5);
  std::unique_ptr<DeviceContext> cpu = MakeCpuContext();
  Trainer fused(ModelKind::kSmall, Precision::kFp32, *cpu, /*seed=*/3, AdamKind::kFused);
  Trainer loop(ModelKind::kSmall, Precision::kFp32, *cpu, /*seed=*/3, AdamKind::kLoop);
  EpochLoader loader(d.train, LoaderOptions{32, 0, false, 0}, 0);
  int steps = 0;
  while (auto b = loader.Next()) {
    fused.Step(b->images, b->labels);
    loop.Step(b->images, b->labels);
    ++steps;
  }
  ASSERT_EQ(steps, 50);
  const auto a = fused.model()->parameters();
  const auto b = loop.model()->parameters();
  ASSERT_EQ(a.size(), b.size());
  const auto initial = Trainer(ModelKind::kSmall, Precision::kFp32, *cpu, 3).model()->parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    // Relative to the parameter's size: elementwise ratios are meaningless at zero crossings.
    const double diff = (a[i] - b[i]).norm().item<double>();
    const double scale = b[i].norm().item<double>();
    EXPECT_LE(diff, 1e-5 * scale) << "parameter " << i << ": |fused - loop| " << diff << ", |loop| " << scale;
    // And both moved: the comparison is not between two untouched copies.
    EXPECT_GT((b[i] - initial[i]).norm().item<double>(), 1e3 * diff + 1e-6) << "parameter " << i;
  }
}

TEST(FusedAdamTest, ScaledStepWithInfChangesNothingAndIsCounted) {
  // fp16's device-side path, on CPU: found_inf set -> the fused update leaves parameters and
  // step counts alone, the scale backs off, and the skip is counted without a host branch.
  at::Tensor w = at::full({4}, 1.0f).set_requires_grad(true);
  FusedAdam adam({w}, 1e-3);
  LossScaler scaler(c10::Device(c10::kCPU), /*init_scale=*/1024.0);
  w.mutable_grad() = at::full({4}, 1024.0f);  // scaled gradient of 1
  scaler.CheckFinite(adam.Gradients());
  adam.Step(scaler.scale_tensor(), scaler.found_inf());
  scaler.Update();
  const at::Tensor after_one = w.detach().clone();
  // Adam's first step moves each weight by lr in the gradient's direction, whatever its size.
  EXPECT_NEAR(after_one[0].item<float>(), 1.0f - 1e-3f, 1e-6f);
  w.mutable_grad() = at::full({4}, std::numeric_limits<float>::infinity());
  scaler.CheckFinite(adam.Gradients());
  adam.Step(scaler.scale_tensor(), scaler.found_inf());
  scaler.Update();
  EXPECT_TRUE(w.detach().equal(after_one));
  EXPECT_EQ(scaler.skipped_steps(), 1);
  EXPECT_DOUBLE_EQ(scaler.scale(), 512.0);
  // The skipped step did not count: the next finite step is step 2, as with one step taken.
  FusedAdam reference({at::full({4}, 1.0f).set_requires_grad(true)}, 1e-3);
  for (float g : {1.0f, 1.0f}) {
    reference.parameters()[0].mutable_grad() = at::full({4}, g);
    reference.Step();
  }
  w.mutable_grad() = at::full({4}, 512.0f);  // scaled by the new scale
  scaler.CheckFinite(adam.Gradients());
  adam.Step(scaler.scale_tensor(), scaler.found_inf());
  scaler.Update();
  EXPECT_TRUE(at::allclose(w.detach(), reference.parameters()[0].detach(), 1e-6, 1e-7));
  EXPECT_EQ(scaler.skipped_steps(), 1);
}

// ---- the training state before a warm-up, restored after it

// Losses of `steps` steps on loader batches of epoch 0, from where the trainer is now.
std::vector<float> StepLosses(Trainer& trainer, const FashionMnist& d, int64_t epoch, int steps) {
  std::vector<float> losses;
  EpochLoader loader(d.train, LoaderOptions{32, 0, false, 0}, epoch);
  while (static_cast<int>(losses.size()) < steps) {
    const HostBatch b = *loader.Next();
    losses.push_back(trainer.Step(b.images, b.labels).item<float>());
  }
  return losses;
}

// A small network with BatchNorm, whose running statistics (buffers) move with every step;
// seeded here, as the Trainer constructor for a caller's network asks.
Trainer WithBatchNorm(DeviceContext& ctx, AdamKind adam) {
  torch::manual_seed(4);
  namespace nn = torch::nn;
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(), nn::Flatten(),
                     nn::Linear(4 * 28 * 28, 10));
  return Trainer(net, Precision::kFp32, ctx, adam);
}

TEST(TrainingSnapshotTest, ARestoredTrainerTrainsAsIfTheWarmupNeverRan) {
  // Parameters and BatchNorm's running statistics (buffers); both Adams: the fused one's
  // moments are tensors updated in place, torch::optim::Adam creates its state on a step.
  FashionMnist d = MakeSyntheticFashionMnist(32 * 16, 64, 6);
  std::unique_ptr<DeviceContext> cpu = MakeCpuContext();
  for (const AdamKind adam : {AdamKind::kFused, AdamKind::kLoop}) {
    for (const int before : {0, 2}) {  // the snapshot before any step, or after some
      Trainer plain = WithBatchNorm(*cpu, adam);
      Trainer warmed = WithBatchNorm(*cpu, adam);
      StepLosses(plain, d, 0, before);
      StepLosses(warmed, d, 0, before);
      TrainingSnapshot snapshot(warmed);
      StepLosses(warmed, d, -1, 3);  // the warm-up: its own batches (negative epochs)
      snapshot.Restore();
      const std::vector<float> after = StepLosses(warmed, d, 1, 4);
      EXPECT_EQ(after, StepLosses(plain, d, 1, 4)) << "before " << before;
      // The warm-up did train (else the comparison proves nothing): without the restore the
      // same steps differ.
      Trainer unrestored = WithBatchNorm(*cpu, adam);
      StepLosses(unrestored, d, 0, before);
      StepLosses(unrestored, d, -1, 3);
      EXPECT_NE(StepLosses(unrestored, d, 1, 4), after) << "before " << before;
      // Restoring twice gives the same state again.
      snapshot.Restore();
      EXPECT_EQ(StepLosses(warmed, d, 1, 4), after) << "before " << before;
      EXPECT_EQ(warmed.Evaluate(d.test), plain.Evaluate(d.test));
    }
  }
}

}  // namespace
}  // namespace trainbench
