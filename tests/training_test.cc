// Training on the CPU: a short run lowers the loss and is reproducible; the loader hands out
// the same batches whatever its worker count; fp16 loss scaling backs off and grows.
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
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include "bench/env.h"
#include "fixtures/loader.h"
#include "fixtures/warmup.h"
#include "models/fused_adam.h"
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

// ---- warm-up

std::vector<int64_t> WarmupSizes(int64_t samples, int64_t batch, int workers, int min_steps) {
  FashionMnist d = MakeSyntheticFashionMnist(samples, 10, 6);
  return WarmUpOnLoader(d.train, LoaderOptions{batch, workers, false, 0}, {min_steps, 0.0},
                        [](const HostBatch&) {});
}

TEST(WarmupTest, RunsTheSmallerLastBatchToo) {
  // 1000 = 3 x 256 + 232: two steps, then the tail shape from the same pass.
  for (int workers : {0, 2}) {
    EXPECT_EQ(WarmupSizes(1000, 256, workers, 2), (std::vector<int64_t>{256, 256, 232})) << workers;
  }
  // Reaching the tail on the way needs nothing extra; the next pass starts over.
  EXPECT_EQ(WarmupSizes(1000, 256, 0, 5), (std::vector<int64_t>{256, 256, 256, 232, 256}));
  // No tail: exactly the steps asked for.
  EXPECT_EQ(WarmupSizes(1024, 256, 0, 2), (std::vector<int64_t>{256, 256}));
  // Fewer samples than a batch: the one (short) batch is the tail.
  EXPECT_EQ(WarmupSizes(100, 256, 0, 2), (std::vector<int64_t>{100, 100}));
  // Warm-up off.
  EXPECT_TRUE(WarmupSizes(1000, 256, 0, 0).empty());
}

TEST(WarmupTest, LastsAtLeastMinSeconds) {
  FashionMnist d = MakeSyntheticFashionMnist(512, 10, 6);
  int steps = 0;
  const std::vector<int64_t> sizes =
      WarmUpOnLoader(d.train, LoaderOptions{64, 0, false, 0}, {/*min_steps=*/1, /*min_seconds=*/0.05},
                     [&steps](const HostBatch&) {
                       ++steps;
                       std::this_thread::sleep_for(std::chrono::milliseconds(10));
                     });
  // Each step takes at least 10 ms: 0.05 s needs at least 5 of them.
  EXPECT_GE(steps, 5);
  EXPECT_EQ(static_cast<int>(sizes.size()), steps);
}

// ---- the host batch pool

class CountingFence final : public HostFence {
 public:
  void Wait() override { ++waits; }
  int waits = 0;
};

TEST(BatchPoolTest, ReusesSlotsInReturnOrderAfterTheirFence) {
  auto pool = std::make_shared<BatchPool>(/*batch_size=*/8, /*pinned=*/false);
  std::shared_ptr<HostSlot> a = pool->Acquire();
  std::shared_ptr<HostSlot> b = pool->Acquire();
  EXPECT_EQ(a->block.numel(), 8 * kSampleBytes);
  HostSlot* const a_raw = a.get();
  HostSlot* const b_raw = b.get();
  auto fence = std::make_shared<CountingFence>();
  b->fence = fence;
  b.reset();  // b comes back first, fenced
  a.reset();
  EXPECT_EQ(pool->slots_allocated(), 2);
  std::shared_ptr<HostSlot> first = pool->Acquire();
  EXPECT_EQ(first.get(), b_raw);
  EXPECT_EQ(fence->waits, 1);  // waited before handing it out for writing
  std::shared_ptr<HostSlot> second = pool->Acquire();
  EXPECT_EQ(second.get(), a_raw);
  // Both held: a third is allocated rather than waiting forever.
  std::shared_ptr<HostSlot> third = pool->Acquire();
  EXPECT_NE(third.get(), a_raw);
  EXPECT_NE(third.get(), b_raw);
  EXPECT_EQ(pool->slots_allocated(), 3);
}

TEST(BatchPoolTest, ViewsPutLabelsRightAfterTheImages) {
  auto pool = std::make_shared<BatchPool>(16, false);
  std::shared_ptr<HostSlot> s = pool->Acquire();
  BatchViews v = ViewBatch(s->block, /*n=*/5);  // a short tail batch in a full-size slot
  EXPECT_EQ(v.images.sizes(), (at::IntArrayRef{5, 1, 28, 28}));
  EXPECT_EQ(v.labels.sizes(), (at::IntArrayRef{5}));
  const auto* base = static_cast<const uint8_t*>(s->block.data_ptr());
  EXPECT_EQ(static_cast<const uint8_t*>(v.images.data_ptr()), base);
  EXPECT_EQ(static_cast<const uint8_t*>(v.labels.data_ptr()), base + 5 * kImageBytes);
}

TEST(LoaderTest, ASteadyEpochReusesItsSlots) {
  FashionMnist d = MakeSyntheticFashionMnist(64 * 40, 10, 2);
  for (int workers : {0, 2}) {
    EpochLoader loader(d.train, LoaderOptions{64, workers, false, 0}, 0);
    int batches = 0;
    while (auto b = loader.Next()) ++batches;
    EXPECT_EQ(batches, 40);
    // The window (2 per worker, 2 without workers) plus the one in hand, not one per batch.
    EXPECT_LE(loader.slots_allocated(), 2 * std::max(workers, 1) + 2) << workers << " workers";
  }
}

TEST(LoaderTest, HeldBatchesAreNotOverwritten) {
  // A consumer that keeps batches (as the epoch keeps the staged one) must see them intact
  // while the loader builds more into other slots.
  FashionMnist d = MakeSyntheticFashionMnist(32 * 12, 10, 2);
  EpochLoader reference(d.train, LoaderOptions{32, 0, false, 4}, 1);
  std::vector<at::Tensor> expected;
  while (auto b = reference.Next()) expected.push_back(b->images.clone());
  EpochLoader loader(d.train, LoaderOptions{32, 2, false, 4}, 1);
  std::vector<HostBatch> held;
  while (auto b = loader.Next()) held.push_back(*std::move(b));
  ASSERT_EQ(held.size(), expected.size());
  for (size_t i = 0; i < held.size(); ++i) EXPECT_TRUE(held[i].images.equal(expected[i])) << i;
  EXPECT_GE(loader.slots_allocated(), static_cast<int64_t>(held.size()));
}

// ---- failures: out of memory and a lost device context

// A device that fails as told: RecoverAfterFailure loses the context when `sticky` is set,
// as a CUDA context after an illegal address.
class FaultyContext final : public DeviceContext {
 public:
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  std::unique_ptr<IntervalTimer> NewTimer() override { return cpu_->NewTimer(); }
  void Synchronize() override {}
  DeviceBatch Stage(const HostBatch& h, bool nb) override { return cpu_->Stage(h, nb); }
  void Use(DeviceBatch&) override {}
  void ReleaseCachedMemory() override { ++releases; }
  bool RecoverAfterFailure(const std::string& error) override {
    if (sticky) {
      MarkLost("CUDA context lost: " + error);
      return false;
    }
    ReleaseCachedMemory();
    return true;
  }
  std::vector<std::pair<std::string, std::string>> Describe() const override { return {}; }

  bool sticky = false;
  int releases = 0;

 private:
  std::unique_ptr<DeviceContext> cpu_ = MakeCpuContext();
};

TEST(RunGuardedTest, OutOfMemoryIsNamedAndTheCachesReleased) {
  FaultyContext ctx;
  const absl::Status s = RunGuarded(ctx, "batch:65536 model:Large", [] {
    throw std::runtime_error("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate(handle)\nbacktrace");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "out of memory at batch:65536 model:Large: CUDA error: CUBLAS_STATUS_ALLOC_FAILED "
                         "when calling cublasCreate(handle)");
  // Once before the body (clean peaks), once after the failure.
  EXPECT_EQ(ctx.releases, 2);
  EXPECT_FALSE(ctx.lost_reason().has_value());
  bool ran = false;
  EXPECT_TRUE(RunGuarded(ctx, "x", [&ran] { ran = true; }).ok());
  EXPECT_TRUE(ran);
}

TEST(RunGuardedTest, AStickyErrorSkipsEveryLaterBenchmarkOnThatDevice) {
  FaultyContext ctx;
  ctx.sticky = true;
  const absl::Status first = RunGuarded(ctx, "batch:16 model:Small", [] {
    throw std::runtime_error("CUDA error: an illegal memory access was encountered");
  });
  EXPECT_EQ(first.message(), "CUDA error: an illegal memory access was encountered");
  for (int i = 0; i < 3; ++i) {
    bool ran = false;
    const absl::Status later = RunGuarded(ctx, "batch:256 model:Medium", [&ran] { ran = true; });
    EXPECT_FALSE(ran);
    EXPECT_EQ(later.message(), "CUDA context lost: CUDA error: an illegal memory access was encountered");
  }
  // Another device (the CPU) still runs.
  std::unique_ptr<DeviceContext> cpu = MakeCpuContext();
  bool ran = false;
  EXPECT_TRUE(RunGuarded(*cpu, "x", [&ran] { ran = true; }).ok());
  EXPECT_TRUE(ran);
}

TEST(RunGuardedTest, RecognizesAllocationFailures) {
  for (const char* m : {"CUDA out of memory. Tried to allocate 2.00 GiB",
                        "CUDA error: out of memory",  // cudaHostAlloc in a loader thread
                        "cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
                        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory"}) {
    EXPECT_TRUE(IsOutOfMemoryMessage(m)) << m;
  }
  EXPECT_FALSE(IsOutOfMemoryMessage("CUDA error: an illegal memory access was encountered"));
  EXPECT_FALSE(IsOutOfMemoryMessage("precision:fp16 is not run on cpu"));
}

}  // namespace
}  // namespace trainbench
