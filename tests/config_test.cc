// Benchmark names, the default sweeps, axis-flag parsing (good and bad), and which counters
// are reported on which device.
#include <algorithm>
#include <map>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "bench/lab_suite.h"
#include "bench/counters.h"

namespace trainbench {

// Readable gtest failure messages for loader configurations.
void PrintTo(const LoaderConfig& c, std::ostream* os) { *os << BenchmarkName(c); }

namespace {

TEST(NamesTest, EpochNameHasAxesInOrder) {
  EXPECT_EQ(BenchmarkName(EpochConfig{256, ModelKind::kLarge, 4, Precision::kFp32, true, DeviceKind::kCuda}),
            "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda");
  EXPECT_EQ(BenchmarkName(EpochConfig{16, ModelKind::kSmall, 0, Precision::kBf16, false, DeviceKind::kCpu}),
            "BM_TrainEpoch/batch:16/model:Small/workers:0/precision:bf16/pin:0/device:cpu");
  EXPECT_EQ(BenchmarkName(StepConfig{64, ModelKind::kMedium, Precision::kFp16, DeviceKind::kCuda}),
            "BM_TrainStep/batch:64/model:Medium/precision:fp16/device:cuda");
  EXPECT_EQ(BenchmarkName(LoaderConfig{256, 4, true}), "BM_DataLoader/batch:256/workers:4/pin:1");
  EXPECT_EQ(BenchmarkName(LoaderConfig{16, 0, false}), "BM_DataLoader/batch:16/workers:0/pin:0");
}

TEST(LoaderConfigsTest, OnePerLoaderSettingTheEpochsUseInFirstUseOrder) {
  const std::vector<LoaderConfig> gpu = LoaderConfigs(DefaultEpochSweep(/*cuda_available=*/true));
  // Part 1 (pageable, 0 workers, cpu and cuda share it), Part 2's batches, Part 4's workers;
  // Parts 3 and the precision sweep add no loader setting of their own.
  const std::vector<LoaderConfig> want = {{64, 0, false}, {16, 4, true},  {64, 4, true},
                                          {256, 4, true}, {1024, 4, true}, {256, 0, true},
                                          {256, 2, true}, {256, 8, true}};
  EXPECT_EQ(gpu, want);
  for (const LoaderConfig& c : LoaderConfigs(DefaultEpochSweep(false))) EXPECT_FALSE(c.pin);

  AxisFlags f;
  f.model = {"Small", "Large"};
  f.workers = {"0", "2"};
  f.pin = {"0", "1"};
  absl::StatusOr<std::vector<EpochConfig>> e = EpochConfigs(f, /*cuda_available=*/true);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 8u);  // 2 models x 2 workers x 2 pins
  const std::vector<LoaderConfig> want_flags = {
      {256, 0, false}, {256, 0, true}, {256, 2, false}, {256, 2, true}};
  EXPECT_EQ(LoaderConfigs(*e), want_flags);
}

bool Unique(const std::vector<EpochConfig>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t j = i + 1; j < v.size(); ++j)
      if (v[i] == v[j]) return false;
  return true;
}

TEST(SweepTest, GpuDefaultCoversTheLabsFourPartsAndPrecision) {
  const std::vector<EpochConfig> s = DefaultEpochSweep(/*cuda_available=*/true);
  EXPECT_TRUE(Unique(s));
  auto has = [&s](int64_t b, ModelKind m, int w, Precision p, bool pin, DeviceKind d) {
    return std::find(s.begin(), s.end(), EpochConfig{b, m, w, p, pin, d}) != s.end();
  };
  const auto M = ModelKind::kMedium;
  const auto fp32 = Precision::kFp32;
  EXPECT_TRUE(has(64, M, 0, fp32, false, DeviceKind::kCpu));   // Part 1
  EXPECT_TRUE(has(64, M, 0, fp32, false, DeviceKind::kCuda));  // Part 1
  for (int64_t b : {16, 64, 256, 1024}) EXPECT_TRUE(has(b, M, 4, fp32, true, DeviceKind::kCuda));
  for (auto m : {ModelKind::kSmall, ModelKind::kMedium, ModelKind::kLarge})
    EXPECT_TRUE(has(256, m, 4, fp32, true, DeviceKind::kCuda));
  for (int w : {0, 2, 4, 8}) EXPECT_TRUE(has(256, M, w, fp32, true, DeviceKind::kCuda));
  for (auto p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16})
    EXPECT_TRUE(has(256, ModelKind::kLarge, 4, p, true, DeviceKind::kCuda));
  // 2 + 4 + 2 new in Part 3 + 3 new in Part 4 + 3 new precisions.
  EXPECT_EQ(s.size(), 14u);
}

TEST(SweepTest, CpuDefaultIsCpuOnlyAndPageable) {
  const std::vector<EpochConfig> s = DefaultEpochSweep(/*cuda_available=*/false);
  EXPECT_TRUE(Unique(s));
  EXPECT_FALSE(s.empty());
  for (const EpochConfig& c : s) {
    EXPECT_EQ(c.device, DeviceKind::kCpu);
    EXPECT_FALSE(c.pin);
  }
  const std::vector<StepConfig> steps = DefaultStepSweep(false);
  EXPECT_EQ(steps.size(), 6u);
  EXPECT_EQ(DefaultStepSweep(true).size(), 12u);
}

TEST(AxisFlagsTest, ProductOfGivenValuesWithLabDefaults) {
  AxisFlags f;
  f.batch = {"16", "64"};
  f.model = {"small", "Large"};
  absl::StatusOr<std::vector<EpochConfig>> c = EpochConfigs(f, /*cuda_available=*/false);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 4u);
  EXPECT_EQ(BenchmarkName((*c)[0]), "BM_TrainEpoch/batch:16/model:Small/workers:2/precision:fp32/pin:0/device:cpu");
  EXPECT_EQ(BenchmarkName((*c)[3]), "BM_TrainEpoch/batch:64/model:Large/workers:2/precision:fp32/pin:0/device:cpu");
  // With a GPU the defaults are the lab's: cuda, 4 workers, pinned.
  absl::StatusOr<std::vector<EpochConfig>> g = EpochConfigs(f, true);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(BenchmarkName((*g)[0]), "BM_TrainEpoch/batch:16/model:Small/workers:4/precision:fp32/pin:1/device:cuda");
}

TEST(AxisFlagsTest, DuplicatesCollapseAndCpuDropsPinnedCombinations) {
  AxisFlags f;
  f.batch = {"64", "64"};
  f.pin = {"0", "1"};
  f.device = {"cpu", "cuda"};
  absl::StatusOr<std::vector<EpochConfig>> c = EpochConfigs(f, true);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 3u);  // cpu pin0, cuda pin0, cuda pin1
  for (const EpochConfig& e : *c) EXPECT_FALSE(e.device == DeviceKind::kCpu && e.pin);
}

TEST(AxisFlagsTest, BadValuesNameTheFlagAndValue) {
  const std::map<std::string, std::pair<AxisFlags, std::string>> cases = [] {
    std::map<std::string, std::pair<AxisFlags, std::string>> m;
    AxisFlags f;
    f.batch = {"abc"};
    m["batch"] = {f, "--batch=abc: not an integer"};
    f = {};
    f.batch = {"0"};
    m["batch0"] = {f, "--batch=0: out of range"};
    f = {};
    f.model = {"Huge"};
    m["model"] = {f, "--model=Huge: unknown model"};
    f = {};
    f.workers = {"-1"};
    m["workers"] = {f, "--workers=-1: out of range"};
    f = {};
    f.precision = {"fp8"};
    m["precision"] = {f, "--precision=fp8: unknown precision"};
    f = {};
    f.pin = {"2"};
    m["pin"] = {f, "--pin=2: out of range"};
    f = {};
    f.device = {"tpu"};
    m["device"] = {f, "--device=tpu: unknown device"};
    f = {};
    f.device = {"cuda"};
    m["nogpu"] = {f, "--device=cuda: no CUDA GPU is available"};
    f = {};
    f.pin = {"1"};
    m["pincpu"] = {f, "--pin=1: pinned memory exists only with --device=cuda"};
    return m;
  }();
  for (const auto& [label, fc] : cases) {
    absl::StatusOr<std::vector<EpochConfig>> c = EpochConfigs(fc.first, /*cuda_available=*/false);
    ASSERT_FALSE(c.ok()) << label;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << label;
    EXPECT_NE(c.status().message().find(fc.second), std::string::npos)
        << label << ": " << c.status().message();
    EXPECT_EQ(c.status().message().find('\n'), std::string::npos) << label << ": one line";
  }
}

TEST(AxisFlagsTest, StepConfigsUseSharedAxes) {
  AxisFlags f;
  f.model = {"Small"};
  f.batch = {"16", "256"};
  f.workers = {"4"};  // not an axis of BM_TrainStep: ignored there
  absl::StatusOr<std::vector<StepConfig>> c = StepConfigs(f, false);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ(BenchmarkName((*c)[1]), "BM_TrainStep/batch:256/model:Small/precision:fp32/device:cpu");
}

TEST(AxisFlagsTest, SplitsCommaListsAndTrims) {
  EXPECT_EQ(SplitAxisValues({"16, 64", "256", ""}), (std::vector<std::string>{"16", "64", "256"}));
}

std::map<std::string, double> AsMap(const CounterList& l) { return {l.begin(), l.end()}; }

TEST(CountersTest, CpuEpochHasNoDeviceCounters) {
  EpochMeasurements m;
  m.epochs = 2;
  m.samples_per_epoch = 1000;
  m.timed_seconds = 4.0;
  m.wall_seconds = 4.2;
  m.data_wait_seconds = 0.2;
  m.host_peak_rss_bytes = 512 * 1024 * 1024;
  m.parameters = 421642;
  m.train_loss = 0.5;
  m.test_acc = 0.8;
  const auto c = AsMap(EpochCounters(m));
  EXPECT_DOUBLE_EQ(c.at("samples_per_second"), 500.0);
  EXPECT_DOUBLE_EQ(c.at("wall_s_per_epoch"), 2.1);
  EXPECT_DOUBLE_EQ(c.at("data_wait_pct"), 5.0);
  EXPECT_DOUBLE_EQ(c.at("host_peak_rss_MB"), 512.0);
  EXPECT_DOUBLE_EQ(c.at("params_M"), 0.421642);
  EXPECT_DOUBLE_EQ(c.at("test_acc"), 0.8);
  for (const char* absent : {"peak_alloc_MB", "peak_reserved_MB", "step_span_pct", "nvml_util_pct",
                             "gpu_kernel_busy_pct", "kernel_ms_per_step", "amp_skipped_steps"}) {
    EXPECT_EQ(c.count(absent), 0u) << absent;
  }
}

TEST(CountersTest, CudaEpochHasAllocatorAndBusyCounters) {
  EpochMeasurements m;
  m.epochs = 1;
  m.samples_per_epoch = 60000;
  m.timed_seconds = 0.5;
  m.step_span_seconds = 0.45;
  m.kernel_busy = KernelBusy{/*wall_seconds=*/0.6, /*kernel_seconds=*/0.15, /*steps=*/300};
  m.peak_alloc_bytes = int64_t{300} * 1024 * 1024;
  m.peak_reserved_bytes = int64_t{400} * 1024 * 1024;
  m.nvml_util_pct = 93.0;
  const auto c = AsMap(EpochCounters(m));
  EXPECT_DOUBLE_EQ(c.at("samples_per_second"), 120000.0);
  EXPECT_DOUBLE_EQ(c.at("step_span_pct"), 90.0);
  EXPECT_EQ(c.count("gpu_busy_pct"), 0u);  // renamed: it measured the step span, not GPU work
  EXPECT_DOUBLE_EQ(c.at("gpu_kernel_busy_pct"), 25.0);
  EXPECT_DOUBLE_EQ(c.at("kernel_ms_per_step"), 0.5);
  EXPECT_EQ(c.count("amp_skipped_steps"), 0u);  // fp16 rows only
  EXPECT_DOUBLE_EQ(c.at("peak_alloc_MB"), 300.0);
  EXPECT_DOUBLE_EQ(c.at("peak_reserved_MB"), 400.0);
  EXPECT_DOUBLE_EQ(c.at("nvml_util_pct"), 93.0);
  EXPECT_EQ(c.count("host_peak_rss_MB"), 0u);  // not measured in this case
}

TEST(CountersTest, StepCountersDeriveTflopsFromForwardFlops) {
  StepMeasurements m;
  m.steps = 100;
  m.batch = 256;
  m.timed_seconds = 0.5;
  m.forward_flops_per_sample = 1e9;
  const auto c = AsMap(StepCounters(m));
  EXPECT_DOUBLE_EQ(c.at("samples_per_second"), 51200.0);
  EXPECT_DOUBLE_EQ(c.at("step_ms"), 5.0);
  // forward + backward = 3x forward: 3e9 * 51200 / 1e12.
  EXPECT_DOUBLE_EQ(c.at("tflops"), 153.6);
  EXPECT_EQ(c.count("peak_alloc_MB"), 0u);
  // No CUPTI (or CPU): no kernel counters rather than zeros.
  EXPECT_EQ(c.count("gpu_kernel_busy_pct"), 0u);
  EXPECT_EQ(c.count("kernel_ms_per_step"), 0u);
}

TEST(CountersTest, Fp16StepReportsSkippedStepsAndKernelTime) {
  StepMeasurements m;
  m.steps = 128;
  m.batch = 16;
  m.timed_seconds = 0.128;
  m.amp_skipped_steps = 3;
  m.kernel_busy = KernelBusy{/*wall_seconds=*/0.128, /*kernel_seconds=*/0.032, /*steps=*/128};
  const auto c = AsMap(StepCounters(m));
  EXPECT_DOUBLE_EQ(c.at("amp_skipped_steps"), 3.0);
  EXPECT_DOUBLE_EQ(c.at("gpu_kernel_busy_pct"), 25.0);
  EXPECT_DOUBLE_EQ(c.at("kernel_ms_per_step"), 0.25);  // against step_ms 1.0: launch-bound
}

}  // namespace
}  // namespace trainbench
