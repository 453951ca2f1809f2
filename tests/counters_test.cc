// bench/families/counters.h: which counters a benchmark reports on which device, and their values.
#include "bench/families/counters.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace trainbench {
namespace {

std::map<std::string, double> AsMap(const CounterList& l) { return {l.begin(), l.end()}; }

// epochs of samples_per_epoch samples in seconds (timed) in all.
EpochMeasurements Epochs(int epochs, int64_t samples_per_epoch, double seconds) {
  EpochMeasurements m;
  m.epochs = epochs;
  m.samples_per_epoch = samples_per_epoch;
  m.timed_seconds = seconds;
  return m;
}

TEST(CountersTest, CpuEpochHasNoDeviceCounters) {
  EpochMeasurements m = Epochs(2, 1000, 4.0);
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
  EpochMeasurements m = Epochs(1, 60000, 0.5);
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

// steps of batch samples in seconds, at forward_flops FLOPs per sample.
StepMeasurements Steps(int64_t steps, int64_t batch, double seconds, double forward_flops) {
  StepMeasurements m;
  m.steps = steps;
  m.batch = batch;
  m.timed_seconds = seconds;
  m.forward_flops_per_sample = forward_flops;
  return m;
}

TEST(CountersTest, DataParallelEpochComparesWithItsNoSyncEpochs) {
  // 2 epochs of 60000 samples in 4 s (the slowest rank's: 1.6 and 2.4); their no-sync twins
  // took 1.2 and 1.8 s, 1.5 on average.
  EpochMeasurements m = Epochs(2, 60000, 4.0);
  EXPECT_EQ(AsMap(EpochCounters(m)).count("scaling_efficiency"), 0u);  // one process: none
  m.data_parallel = DataParallelMeasurements{/*synced_seconds=*/{1.6, 2.4}, /*nosync_seconds=*/{1.2, 1.8},
                                             /*rank_min_seconds=*/{1.0, 1.4}, /*buckets=*/3};
  const auto c = AsMap(EpochCounters(m));
  EXPECT_DOUBLE_EQ(c.at("samples_per_second"), 30000.0);
  EXPECT_DOUBLE_EQ(c.at("nosync_samples_per_second"), 40000.0);
  EXPECT_DOUBLE_EQ(c.at("scaling_efficiency"), 0.75);
  EXPECT_DOUBLE_EQ(c.at("comm_exposed_pct"), 25.0);
  // Both pairs expose 25%: no spread, though the epochs themselves varied by 50%.
  EXPECT_NEAR(c.at("comm_exposed_sd_pct"), 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(c.at("rank_max_s"), 1.5);  // the slowest rank is the no-sync epochs' time
  EXPECT_DOUBLE_EQ(c.at("rank_min_s"), 1.2);
  EXPECT_DOUBLE_EQ(c.at("ddp_buckets"), 3.0);
  // Pairs exposing 20% and 40%: sd of {20, 40} is 14.14 points.
  m.data_parallel->nosync_seconds = {1.6 * 0.8, 2.4 * 0.6};
  EXPECT_NEAR(AsMap(EpochCounters(m)).at("comm_exposed_sd_pct"), std::sqrt(200.0), 1e-9);
  // One pair: no spread to report.
  EpochMeasurements one = Epochs(1, 60000, 2.0);
  one.data_parallel = DataParallelMeasurements{{2.0}, {1.5}, {1.4}, 2};
  const auto c1 = AsMap(EpochCounters(one));
  EXPECT_DOUBLE_EQ(c1.at("comm_exposed_pct"), 25.0);
  EXPECT_EQ(c1.count("comm_exposed_sd_pct"), 0u);
}

TEST(CountersTest, StepCountersDeriveTflopsFromForwardFlops) {
  const StepMeasurements m = Steps(100, 256, 0.5, 1e9);
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
  StepMeasurements m = Steps(128, 16, 0.128, /*forward_flops=*/0);
  m.amp_skipped_steps = 3;
  m.kernel_busy = KernelBusy{/*wall_seconds=*/0.128, /*kernel_seconds=*/0.032, /*steps=*/128};
  const auto c = AsMap(StepCounters(m));
  EXPECT_DOUBLE_EQ(c.at("amp_skipped_steps"), 3.0);
  EXPECT_DOUBLE_EQ(c.at("gpu_kernel_busy_pct"), 25.0);
  EXPECT_DOUBLE_EQ(c.at("kernel_ms_per_step"), 0.25);  // against step_ms 1.0: launch-bound
}

// mfu_pct: 3 x forward FLOPs x samples/s against the device's dense peak.
TEST(CountersTest, MfuIsModelFlopsAgainstTheDevicePeak) {
  StepMeasurements step = Steps(100, 256, 0.5, 1e9);  // 51,200 samples/s, 153.6 TFLOPS
  step.peak_flops = 989.4e12;                         // an H100's bf16 dense peak
  EXPECT_NEAR(AsMap(StepCounters(step)).at("mfu_pct"), 100.0 * 153.6 / 989.4, 1e-9);

  EpochMeasurements epoch = Epochs(2, 60000, 1.0);  // 120,000 samples/s
  epoch.forward_flops_per_sample = 2e8;             // 72 TFLOPS achieved
  epoch.peak_flops = 720e12;
  EXPECT_DOUBLE_EQ(AsMap(EpochCounters(epoch)).at("mfu_pct"), 10.0);
  EXPECT_DOUBLE_EQ(MfuPct(2e8, 120000, 720e12), 10.0);
}

// Absent on CPU and on an unknown GPU architecture (no peak), never 0.
TEST(CountersTest, NoMfuWithoutAPeak) {
  EXPECT_EQ(AsMap(StepCounters(Steps(10, 16, 0.1, 1e9))).count("mfu_pct"), 0u);
  EpochMeasurements epoch;
  epoch.forward_flops_per_sample = 1e9;  // no peak_flops
  EXPECT_EQ(AsMap(EpochCounters(epoch)).count("mfu_pct"), 0u);
}

// Every measurement present, so every counter the two functions can emit is emitted.
EpochMeasurements EverythingMeasured() {
  EpochMeasurements m = Epochs(2, 1000, 4.0);
  m.wall_seconds = 4.2;
  m.step_span_seconds = 3.0;
  m.kernel_busy = KernelBusy{1.0, 0.5, 10};
  m.amp_skipped_steps = 1;
  m.peak_alloc_bytes = 1 << 20;
  m.peak_reserved_bytes = 2 << 20;
  m.nvml_util_pct = 50;
  m.host_peak_rss_bytes = 3 << 20;
  m.forward_flops_per_sample = 1e6;
  m.peak_flops = 1e12;
  m.data_parallel = DataParallelMeasurements{{3.0, 3.2}, {1.5, 1.6}, {1.4, 1.5}, 2};
  return m;
}

TEST(CounterSpecsTest, EveryEmittedCounterIsDeclaredForItsFamily) {
  StepMeasurements step;
  step.steps = 10;
  step.batch = 16;
  step.timed_seconds = 1;
  step.forward_flops_per_sample = 1e6;
  step.peak_flops = 1e12;
  step.peak_alloc_bytes = 1 << 20;
  step.kernel_busy = KernelBusy{1.0, 0.5, 10};
  step.amp_skipped_steps = 0;
  const std::pair<const char*, CounterList> emitted[] = {{"BM_TrainEpoch", EpochCounters(EverythingMeasured())},
                                                         {"BM_TrainStep", StepCounters(step)}};
  for (const auto& [family, counters] : emitted) {
    EXPECT_GT(counters.size(), 5u);
    for (const auto& [name, value] : counters) {
      const CounterSpec* spec = FindCounter(name);
      ASSERT_NE(spec, nullptr) << name << " is emitted but not declared in kCounters";
      EXPECT_NE(spec->families.find(family), absl::string_view::npos) << name << " is not declared for " << family;
    }
  }
}

TEST(CounterSpecsTest, APausedRowGetsPerturbedAndPausedSecondsAndACleanOneNeither) {
  EXPECT_TRUE(PerturbationCounters(Perturbation{}).empty());
  const CounterList c = PerturbationCounters(Perturbation{2, 6.5});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], (std::pair<std::string, double>{"perturbed", 2.0}));
  EXPECT_EQ(c[1], (std::pair<std::string, double>{"paused_s", 6.5}));
  for (const char* family : {"BM_TrainEpoch", "BM_TrainStep", "BM_DataLoader", "BM_HostToDevice", "BM_AllReduce"}) {
    for (const auto& [name, value] : c) {
      EXPECT_NE(FindCounter(name)->families.find(family), absl::string_view::npos) << name << " " << family;
    }
  }
}

TEST(CounterSpecsTest, NamesAreUniqueAndEveryFieldIsFilled) {
  std::set<std::string> names;
  for (const CounterSpec& c : CounterSpecs()) {
    EXPECT_TRUE(names.insert(std::string(c.name)).second) << "declared twice: " << c.name;
    EXPECT_FALSE(c.unit.empty()) << c.name;
    EXPECT_FALSE(c.meaning.empty()) << c.name;
    EXPECT_TRUE(absl::StartsWith(c.families, "BM_")) << c.name;
  }
  EXPECT_EQ(FindCounter("no_such_counter"), nullptr);
}

TEST(CounterSpecsTest, ContextJsonCarriesEachCounterWithItsDirection) {
  const std::string json = CountersJson();
  EXPECT_TRUE(absl::StartsWith(json, "{\"counters\": [{\"name\": \"samples_per_second\""));
  EXPECT_TRUE(absl::StrContains(json,
                                "{\"name\": \"step_ms\", \"unit\": \"ms\", \"better\": \"lower\", "
                                "\"families\": [\"BM_TrainStep\"]"));
  EXPECT_TRUE(absl::StrContains(json, "\"name\": \"ddp_buckets\", \"unit\": \"count\", \"better\": \"neither\""));
  EXPECT_TRUE(absl::EndsWith(json, "}]}"));
}

}  // namespace
}  // namespace trainbench
