// The graph:0|1 axis: names, the cpu rule, registration order, and the capture itself (on a
// GPU; the capture tests skip with their reason elsewhere).
#include <gtest/gtest.h>

#include <ATen/Context.h>
#include <ATen/ops/_local_scalar_dense.h>

#include "bench/suite/lab_suite.h"
#include "bench/harness/harness.h"
#include "fixtures/loader.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

AxisFlags Flags(std::vector<std::string> graph, std::vector<std::string> device) {
  AxisFlags f;
  f["graph"] = std::move(graph);
  f["device"] = std::move(device);
  return f;
}

TEST(GraphAxisTest, NamesEndWithTheGraphAxis) {
  StepConfig s{16, ModelKind::kSmall, Precision::kFp32, DeviceKind::kCuda, /*graph=*/true};
  EXPECT_EQ(BenchmarkName(s), "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda/graph:1");
  EpochConfig e{256, ModelKind::kMedium, 4, Precision::kFp32, true, DeviceKind::kCuda, /*graph=*/true};
  EXPECT_EQ(BenchmarkName(e),
            "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:1");
  // A data-parallel world's ranks axis comes last, after graph.
  e.graph = false;
  EXPECT_EQ(DataParallelBenchmarkName(e, 8),
            "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0/ranks:8");
}

TEST(GraphAxisTest, Graph1OnCpuIsAnError) {
  for (bool cuda : {false, true}) {
    absl::StatusOr<std::vector<StepConfig>> s = StepConfigs(Flags({"1"}, {"cpu"}), cuda);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().message(), "--graph=1: CUDA graphs exist only with --device=cuda");
    EXPECT_FALSE(EpochConfigs(Flags({"0", "1"}, {"cpu"}), cuda).ok());
  }
  // No GPU and no --device: the device is cpu, so graph:1 cannot run.
  EXPECT_FALSE(StepConfigs(Flags({"1"}, {}), /*cuda_available=*/false).ok());
  EXPECT_EQ(StepConfigs(Flags({"2"}, {}), false).status().message(), "--graph=2: out of range 0..1");
}

TEST(GraphAxisTest, CpuKeepsOnlyGraph0WhenBothDevicesAreGiven) {
  absl::StatusOr<std::vector<StepConfig>> s = StepConfigs(Flags({"0", "1"}, {"cpu", "cuda"}), true);
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<std::string> names;
  for (const StepConfig& c : *s) names.push_back(BenchmarkName(c));
  EXPECT_EQ(names,
            (std::vector<std::string>{"BM_TrainStep/batch:256/model:Medium/precision:fp32/device:cpu/graph:0",
                                      "BM_TrainStep/batch:256/model:Medium/precision:fp32/device:cuda/graph:0",
                                      "BM_TrainStep/batch:256/model:Medium/precision:fp32/device:cuda/graph:1"}));
}

TEST(GraphAxisTest, DefaultSuitesHaveNoGraphRows) {
  // graph:1 joins the default GPU suite only once a GPU run has shown it working.
  for (bool cuda : {false, true}) {
    for (const EpochConfig& c : DefaultEpochSweep(cuda)) EXPECT_FALSE(c.graph) << BenchmarkName(c);
    for (const StepConfig& c : DefaultStepSweep(cuda)) EXPECT_FALSE(c.graph) << BenchmarkName(c);
  }
}

TEST(GraphAxisTest, GraphRowsRegisterAfterEveryEagerRow) {
  AxisFlags f = Flags({"1", "0"}, {"cuda"});
  f["model"] = {"Small", "Medium"};
  const RegistrationOrder r = OrderForRegistration(*EpochConfigs(f, true), *StepConfigs(f, true));
  ASSERT_EQ(r.epochs.size(), 2u);
  ASSERT_EQ(r.graph_epochs.size(), 2u);
  ASSERT_EQ(r.steps.size(), 2u);
  ASSERT_EQ(r.graph_steps.size(), 2u);
  for (const auto& c : r.epochs) EXPECT_FALSE(c.graph);
  for (const auto& c : r.steps) EXPECT_FALSE(c.graph);
  for (const auto& c : r.graph_epochs) EXPECT_TRUE(c.graph);
  for (const auto& c : r.graph_steps) EXPECT_TRUE(c.graph);
  // The given order is kept within each group.
  EXPECT_EQ(r.graph_steps[0].model, ModelKind::kSmall);
  EXPECT_EQ(r.graph_steps[1].model, ModelKind::kMedium);
}

TEST(GraphCaptureTest, CpuAndTheLoopUpdateCannotCapture) {
  std::unique_ptr<DeviceContext> cpu = MakeCpuContext();
  FashionMnist d = MakeSyntheticFashionMnist(32, 10, 1);
  EpochLoader loader(d.train, LoaderOptions{32, 0, false, 0}, 0);
  HostBatch b = *loader.Next();
  Trainer fused(ModelKind::kSmall, Precision::kFp32, *cpu, 0);
  try {
    fused.CaptureStep(b.images, b.labels);
    FAIL() << "captured on cpu";
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "CUDA graphs exist only on cuda");
  }
  EXPECT_FALSE(fused.graphed());
  Trainer loop(ModelKind::kSmall, Precision::kFp32, *cpu, 0, AdamKind::kLoop);
  try {
    loop.CaptureStep(b.images, b.labels);
    FAIL() << "captured with the loop update";
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "graph:1 needs the fused Adam update (--adam=fused)");
  }
}

// ---- on a GPU

std::unique_ptr<DeviceContext> CudaOrSkipReason(std::string* why) {
  absl::StatusOr<std::unique_ptr<DeviceContext>> cuda = MakeCudaContext();
  if (!cuda.ok()) {
    *why = std::string(cuda.status().message());
    return nullptr;
  }
  return *std::move(cuda);
}

// Deterministic, untuned cuDNN for one test, restored after.
class DeterministicCudnn {
 public:
  DeterministicCudnn()
      : deterministic_(at::globalContext().deterministicCuDNN()), benchmark_(at::globalContext().benchmarkCuDNN()) {
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
  }
  ~DeterministicCudnn() {
    at::globalContext().setDeterministicCuDNN(deterministic_);
    at::globalContext().setBenchmarkCuDNN(benchmark_);
  }

 private:
  bool deterministic_, benchmark_;
};

TEST(GraphCaptureTest, GraphAndEagerGiveTheSameLossWithDeterministicCudnn) {
  std::string why;
  std::unique_ptr<DeviceContext> cuda = CudaOrSkipReason(&why);
  if (!cuda) GTEST_SKIP() << "no CUDA GPU here: " << why;
  DeterministicCudnn deterministic;
  FashionMnist d = MakeSyntheticFashionMnist(64 * 12, 10, 3);
  for (Precision p : {Precision::kFp32, Precision::kFp16}) {
    Trainer eager(ModelKind::kMedium, p, *cuda, 5);
    Trainer graphed(ModelKind::kMedium, p, *cuda, 5);
    EpochLoader loader(d.train, LoaderOptions{64, 0, false, 0}, 0);
    std::vector<DeviceBatch> batches;
    while (auto h = loader.Next()) {
      DeviceBatch b = cuda->Stage(*h, false);
      b.images = b.images.clone();  // the host slot is reused; keep the device copy
      b.labels = b.labels.clone();
      batches.push_back(std::move(b));
    }
    // The capture's warm-up steps train on batch 0 (the captured step itself only records):
    // the eager trainer takes the same steps.
    for (int i = 0; i < Trainer::kGraphWarmupSteps; ++i) eager.Step(batches[0].images, batches[0].labels);
    graphed.CaptureStep(batches[0].images, batches[0].labels);
    ASSERT_TRUE(graphed.graphed());
    double eager_loss = 0, graph_loss = 0;
    for (size_t i = 1; i < batches.size(); ++i) {
      eager_loss = eager.Step(batches[i].images, batches[i].labels).item<double>();
      graph_loss = graphed.Step(batches[i].images, batches[i].labels).item<double>();
    }
    EXPECT_NEAR(graph_loss, eager_loss, 1e-5 * std::abs(eager_loss)) << PrecisionName(p);
    EXPECT_FALSE(cuda->lost_reason().has_value());
  }
}

TEST(GraphCaptureTest, AFailedCaptureLosesTheContextForLaterBenchmarks) {
  std::string why;
  std::unique_ptr<DeviceContext> cuda = CudaOrSkipReason(&why);
  if (!cuda) GTEST_SKIP() << "no CUDA GPU here: " << why;
  at::Tensor x = at::ones({4}, at::TensorOptions().device(cuda->device()));
  // Reading a value back to the host inside a capture is not allowed.
  absl::StatusOr<std::unique_ptr<StepGraph>> g =
      cuda->CaptureGraph([&x] { (void)x.sum().item<float>(); }, /*warmup_runs=*/1);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("CUDA graph capture failed: "), std::string::npos) << g.status();
  ASSERT_TRUE(cuda->lost_reason().has_value());
  bool ran = false;
  const absl::Status later = RunGuarded(*cuda, "batch:16 model:Small", [&ran] { ran = true; });
  EXPECT_FALSE(ran);
  EXPECT_EQ(later.message(), absl::StrCat("CUDA context lost: ", g.status().message()));
}

}  // namespace
}  // namespace trainbench
