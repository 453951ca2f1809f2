// bench/harness/harness.cc and fixtures/device.cc: RunGuarded names out-of-memory failures and skips
// every later benchmark on a lost device; the CUDA context is compiled in.
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

#include "bench/harness/harness.h"
#include "fixtures/loader.h"
#include "fixtures/warmup.h"
#include "models/fused_adam.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

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
  EXPECT_EQ(s.message(),
            "out of memory at batch:65536 model:Large: CUDA error: CUBLAS_STATUS_ALLOC_FAILED "
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
                        // cuDNN 9's two (issue 20, finding 7):
                        "cuDNN error: CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED",
                        "cuDNN error: CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED",
                        "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory"}) {
    EXPECT_TRUE(IsOutOfMemoryMessage(m)) << m;
  }
  EXPECT_FALSE(IsOutOfMemoryMessage("CUDA error: an illegal memory access was encountered"));
  EXPECT_FALSE(IsOutOfMemoryMessage("precision:fp16 is not run on cpu"));
}

}  // namespace
}  // namespace trainbench
