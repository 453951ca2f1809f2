// Training on the CPU: a short run lowers the loss and is reproducible; the loader hands out
// the same batches whatever its worker count; fp16 loss scaling backs off and grows.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <ATen/autocast_mode.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include "fixtures/loader.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

// The real data when installed (CI installs it), as the lab trains on it.
const FashionMnist* RealData() {
  static const FashionMnist* data = [] () -> const FashionMnist* {
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

TEST(LoaderTest, WorkersHandOutTheSameBatchesInOrder) {
  FashionMnist d = MakeSyntheticFashionMnist(1000, 10, 2);
  EpochLoader a(d.train, LoaderOptions{96, 0, false, 9}, 3);
  EpochLoader b(d.train, LoaderOptions{96, 3, false, 9}, 3);
  EXPECT_EQ(a.num_batches(), 11);  // 10 full batches and one of 40
  std::multiset<int64_t> labels_seen;
  int64_t samples = 0;
  while (auto x = a.Next()) {
    auto y = b.Next();
    ASSERT_TRUE(y.has_value());
    ASSERT_TRUE(x->images.equal(y->images));
    ASSERT_TRUE(x->labels.equal(y->labels));
    EXPECT_EQ(x->images.sizes(), (at::IntArrayRef{x->labels.size(0), 1, 28, 28}));
    samples += x->labels.size(0);
    for (int64_t i = 0; i < x->labels.size(0); ++i) labels_seen.insert(x->labels[i].item<int64_t>());
  }
  EXPECT_FALSE(b.Next().has_value());
  EXPECT_EQ(samples, 1000);
  // Each sample once per epoch: the label multiset is the data set's.
  EXPECT_EQ(labels_seen, std::multiset<int64_t>(d.train.labels.begin(), d.train.labels.end()));
}

TEST(LoaderTest, StoppingEarlyJoinsWorkers) {
  FashionMnist d = MakeSyntheticFashionMnist(4096, 10, 2);
  for (int i = 0; i < 20; ++i) {
    EpochLoader loader(d.train, LoaderOptions{16, 4, false, 0}, i);
    ASSERT_TRUE(loader.Next().has_value());
  }  // destructors must not hang with workers blocked on a full window
}

TEST(LoaderTest, LoaderThreadErrorsReachTheConsumer) {
  if (CudaAvailable()) GTEST_SKIP() << "pinned memory works with a GPU: no error to provoke";
  // Without a GPU, allocating pinned host memory throws inside the loader threads; it must
  // come out of Next() (so the benchmark is skipped), not terminate the process.
  FashionMnist d = MakeSyntheticFashionMnist(256, 10, 2);
  for (int workers : {0, 2}) {
    EpochLoader loader(d.train, LoaderOptions{32, workers, /*pinned=*/true, 0}, 0);
    EXPECT_THROW(loader.Next(), std::exception) << workers << " workers";
  }
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

TEST(DeviceTest, CudaContextIsCompiledInAndReportsAMissingGpu) {
  absl::StatusOr<std::unique_ptr<DeviceContext>> cuda = MakeCudaContext();
  if (CudaAvailable()) {
    ASSERT_TRUE(cuda.ok()) << cuda.status();
    EXPECT_TRUE((*cuda)->device().is_cuda());
    return;
  }
  // The CUDA build's answer, not the stub's "built without CUDA support": cuda_device.cc was
  // compiled and linked into this binary even though no GPU can run it here.
  ASSERT_FALSE(cuda.ok());
  EXPECT_EQ(cuda.status().code(), absl::StatusCode::kUnavailable);
#ifdef TRAINBENCH_WITH_CUDA
  EXPECT_EQ(cuda.status().message(), "no CUDA GPU is available on this machine");
#else
  GTEST_SKIP() << "LibTorch here has no CUDA: the CUDA context is not compiled";
#endif
}

TEST(PrecisionTest, CpuRunsFp32AndBf16Only) {
  EXPECT_FALSE(UnsupportedPrecision(Precision::kFp32, DeviceKind::kCpu).has_value());
  EXPECT_FALSE(UnsupportedPrecision(Precision::kBf16, DeviceKind::kCpu).has_value());
  EXPECT_TRUE(UnsupportedPrecision(Precision::kTf32, DeviceKind::kCpu).has_value());
  EXPECT_TRUE(UnsupportedPrecision(Precision::kFp16, DeviceKind::kCpu).has_value());
  for (Precision p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16}) {
    EXPECT_FALSE(UnsupportedPrecision(p, DeviceKind::kCuda).has_value());
  }
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

}  // namespace
}  // namespace trainbench
