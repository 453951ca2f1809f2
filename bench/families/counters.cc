#include "bench/families/counters.h"

#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/find_by_name.h"
#include "common/json.h"
#include "common/sample_stats.h"

namespace trainbench {
namespace {

constexpr char kEpoch[] = "BM_TrainEpoch";
constexpr char kEpochStep[] = "BM_TrainEpoch, BM_TrainStep";
constexpr char kTransfers[] = "BM_HostToDevice, BM_DeviceToHost";
constexpr char kEveryFamily[] =
    "BM_TrainEpoch, BM_TrainStep, BM_DataLoader, BM_HostToDevice, BM_DeviceToHost, BM_AllReduce";

// The declaration. A counter added here, and computed below or in its family, is in the
// context, the tools' directions and (by the docs test) docs/counters.md.
constexpr CounterSpec kCounters[] = {
    {"samples_per_second", "samples/s", Better::kHigher, "BM_TrainEpoch, BM_TrainStep, BM_DataLoader",
     "training samples over manual time (BM_DataLoader: samples built and handed out)"},
    {"wall_s_per_epoch", "s", Better::kLower, kEpoch, "host clock around each epoch, synchronized"},
    {"data_wait_pct", "%", Better::kLower, kEpoch, "share of the epoch the training thread waited for its next batch"},
    {"step_span_pct", "%", Better::kHigher, kEpoch,
     "share of the epoch the compute stream spent between each step's start and end events (CUDA)"},
    {"gpu_kernel_busy_pct", "%", Better::kHigher, kEpochStep,
     "share of the traced span in which at least one kernel ran (CUDA with CUPTI)"},
    {"kernel_ms_per_step", "ms", Better::kLower, kEpochStep,
     "kernel time per optimizer step in the traced span (CUDA with CUPTI)"},
    {"amp_skipped_steps", "steps", Better::kLower, kEpochStep,
     "timed steps the fp16 loss scaler skipped for inf/nan gradients"},
    {"nvml_util_pct", "%", Better::kHigher, kEpoch,
     "mean NVML utilization.gpu during the timed epochs (CUDA with NVML)"},
    {"peak_alloc_MB", "MB = 2^20 bytes", Better::kLower, kEpochStep, "caching-allocator peak allocated (CUDA)"},
    {"peak_reserved_MB", "MB = 2^20 bytes", Better::kLower, kEpoch, "caching-allocator peak reserved (CUDA)"},
    {"host_peak_rss_MB", "MB = 2^20 bytes", Better::kLower, kEpoch, "this benchmark's peak resident set (VmHWM)"},
    {"mfu_pct", "%", Better::kHigher, kEpochStep,
     "model FLOPs utilization against the GPU's dense peak (CUDA, known GPU)"},
    {"params_M", "millions", Better::kNeither, kEpoch, "model parameters"},
    {"train_loss", "nats", Better::kLower, kEpoch, "mean batch loss over the last epoch"},
    {"test_acc", "fraction 0..1", Better::kHigher, kEpoch, "top-1 accuracy on the test images after the timed epochs"},
    {"step_ms", "ms", Better::kLower, "BM_TrainStep", "time per optimizer step"},
    {"tflops", "10^12 FLOP/s", Better::kHigher, "BM_TrainStep", "3 x forward FLOPs per sample x samples/s"},
    {"GB_per_s", "10^9 bytes/s", Better::kHigher, kTransfers, "bytes copied over CUDA-event time"},
    {"bytes_per_second", "bytes/s", Better::kHigher, kTransfers, "the same in bytes (Google Benchmark's own)"},
    {"pcie_peak_pct", "%", Better::kHigher, kTransfers, "GB_per_s against the PCIe link's one-way rate (with NVML)"},
    {"nosync_samples_per_second", "samples/s", Better::kHigher, kEpoch,
     "data-parallel: the world's samples/s in the epoch without gradient sync"},
    {"scaling_efficiency", "fraction", Better::kHigher, kEpoch,
     "data-parallel: samples_per_second over nosync_samples_per_second"},
    {"comm_exposed_pct", "%", Better::kLower, kEpoch,
     "data-parallel: 100 x (1 - scaling_efficiency), the share of the epoch gradient sync added"},
    {"comm_exposed_sd_pct", "percentage points", Better::kLower, kEpoch,
     "data-parallel: the standard deviation of comm_exposed_pct over the synced/no-sync epoch pairs"},
    {"rank_max_s", "s", Better::kLower, kEpoch, "data-parallel: the slowest rank's epoch without gradient sync (mean)"},
    {"rank_min_s", "s", Better::kLower, kEpoch, "data-parallel: the fastest rank's epoch without gradient sync (mean)"},
    {"ddp_buckets", "count", Better::kNeither, kEpoch, "data-parallel: gradient buckets after the rebuild"},
    {"algbw_GB_per_s", "10^9 bytes/s", Better::kHigher, "BM_AllReduce", "bytes over all-reduce time"},
    {"busbw_GB_per_s", "10^9 bytes/s", Better::kHigher, "BM_AllReduce", "algbw x 2(N-1)/N, as nccl-tests defines it"},
    {"noise_pct", "%", Better::kLower, kEpochStep,
     "relative standard deviation of the row's samples (epochs; BM_TrainStep: iterations, or sample_iterations "
     "of them), 100 x stddev / mean; absent with one sample"},
    {"noise_samples", "samples", Better::kNeither, kEpochStep, "how many samples noise_pct is computed from"},
    {"noise_met", "0 or 1", Better::kNeither, kEpochStep,
     "with --max_noise: 1 when the row stopped on noise, 0 when it stopped at --max_seconds above the limit"},
    {"sample_iterations", "iterations", Better::kNeither, "BM_TrainStep",
     "with --max_noise: iterations each sample spans, so that a short step is timed over a tenth of a second or "
     "more; samples and real_time stay per iteration"},
    {"warmup_steps", "steps", Better::kNeither, kEpochStep,
     "untimed warm-up steps before the first timed one: the --warmup_steps floor, then until step time settled"},
    {"warmup_s", "s", Better::kNeither, kEpochStep, "the warm-up's host-clock seconds"},
    {"perturbed", "pauses", Better::kNeither, kEveryFamily,
     "present only when the process was paused while the row ran (SIGSTOP/SIGCONT, a suspend, a stall of 1 s "
     "or more): its numbers are not comparable, and tools/compare.py does not judge it"},
    {"paused_s", "s", Better::kNeither, kEveryFamily,
     "with perturbed: how long those pauses lasted (0 when each was under 1 s)"},
};

void AddWarmupCounters(const std::optional<WarmupTaken>& w, CounterList& c) {
  if (!w) return;
  c.emplace_back("warmup_steps", static_cast<double>(w->steps));
  c.emplace_back("warmup_s", w->seconds);
}

void AddKernelCounters(const std::optional<KernelBusy>& k, CounterList& c) {
  if (!k || k->wall_seconds <= 0 || k->steps <= 0) return;
  c.emplace_back("gpu_kernel_busy_pct", 100.0 * k->kernel_seconds / k->wall_seconds);
  c.emplace_back("kernel_ms_per_step", 1e3 * k->kernel_seconds / static_cast<double>(k->steps));
}

}  // namespace

absl::Span<const CounterSpec> CounterSpecs() { return kCounters; }

const CounterSpec* FindCounter(absl::string_view name) { return FindByName(CounterSpecs(), name); }

absl::string_view BetterName(Better b) {
  switch (b) {
    case Better::kHigher: return "higher";
    case Better::kLower: return "lower";
    case Better::kNeither: return "neither";
  }
  return "neither";
}

std::string CountersJson() {
  std::vector<std::string> items;
  for (const CounterSpec& c : kCounters) {
    const std::vector<absl::string_view> families = absl::StrSplit(c.families, ", ");
    items.push_back(absl::StrCat("{\"name\": ", JsonString(c.name), ", \"unit\": ", JsonString(c.unit),
                                 ", \"better\": ", JsonString(BetterName(c.better)), ", \"families\": ",
                                 JsonStrings(families), ", \"meaning\": ", JsonString(c.meaning), "}"));
  }
  return absl::StrCat("{\"counters\": [", absl::StrJoin(items, ", "), "]}");
}

double MfuPct(double forward_flops_per_sample, double samples_per_second, double peak_flops) {
  return peak_flops > 0 ? 100.0 * 3.0 * forward_flops_per_sample * samples_per_second / peak_flops : 0.0;
}

CounterList EpochCounters(const EpochMeasurements& m) {
  CounterList c;
  const double samples = static_cast<double>(m.samples_per_epoch) * m.epochs;
  const double samples_per_second = m.timed_seconds > 0 ? samples / m.timed_seconds : 0.0;
  c.emplace_back("samples_per_second", samples_per_second);
  c.emplace_back("wall_s_per_epoch", m.epochs > 0 ? m.wall_seconds / m.epochs : 0.0);
  c.emplace_back("data_wait_pct", m.timed_seconds > 0 ? 100.0 * m.data_wait_seconds / m.timed_seconds : 0.0);
  if (m.step_span_seconds && m.timed_seconds > 0) {
    c.emplace_back("step_span_pct", 100.0 * *m.step_span_seconds / m.timed_seconds);
  }
  AddKernelCounters(m.kernel_busy, c);
  if (m.amp_skipped_steps) c.emplace_back("amp_skipped_steps", static_cast<double>(*m.amp_skipped_steps));
  if (m.nvml_util_pct) c.emplace_back("nvml_util_pct", *m.nvml_util_pct);
  if (m.peak_alloc_bytes) c.emplace_back("peak_alloc_MB", *m.peak_alloc_bytes / kBytesPerMB);
  if (m.peak_reserved_bytes) c.emplace_back("peak_reserved_MB", *m.peak_reserved_bytes / kBytesPerMB);
  if (m.host_peak_rss_bytes) c.emplace_back("host_peak_rss_MB", *m.host_peak_rss_bytes / kBytesPerMB);
  if (m.peak_flops && m.forward_flops_per_sample > 0) {
    c.emplace_back("mfu_pct", MfuPct(m.forward_flops_per_sample, samples_per_second, *m.peak_flops));
  }
  c.emplace_back("params_M", static_cast<double>(m.parameters) / 1e6);
  c.emplace_back("train_loss", m.train_loss);
  c.emplace_back("test_acc", m.test_acc);
  AddWarmupCounters(m.warmup, c);
  if (const auto& dp = m.data_parallel; dp && !dp->nosync_seconds.empty() && m.epochs > 0 && m.timed_seconds > 0) {
    const auto mean = [](const std::vector<double>& v) {
      return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    };
    const double nosync_epoch_s = mean(dp->nosync_seconds);
    const double synced_epoch_s = m.timed_seconds / m.epochs;
    const double efficiency = nosync_epoch_s / synced_epoch_s;
    c.emplace_back("nosync_samples_per_second", static_cast<double>(m.samples_per_epoch) / nosync_epoch_s);
    c.emplace_back("scaling_efficiency", efficiency);
    c.emplace_back("comm_exposed_pct", 100.0 * (1.0 - efficiency));
    // Each pair's own share, and how far the pairs spread around theirs.
    std::vector<double> pair_pct;
    for (size_t i = 0; i < dp->nosync_seconds.size() && i < dp->synced_seconds.size(); ++i) {
      if (dp->synced_seconds[i] > 0) pair_pct.push_back(100.0 * (1.0 - dp->nosync_seconds[i] / dp->synced_seconds[i]));
    }
    if (pair_pct.size() >= 2) c.emplace_back("comm_exposed_sd_pct", Summarize(pair_pct).stddev);
    c.emplace_back("rank_max_s", nosync_epoch_s);
    c.emplace_back("rank_min_s", mean(dp->rank_min_seconds));
    c.emplace_back("ddp_buckets", static_cast<double>(dp->buckets));
  }
  return c;
}

CounterList StepCounters(const StepMeasurements& m) {
  CounterList c;
  const double samples = static_cast<double>(m.steps) * m.batch;
  const double samples_per_second = m.timed_seconds > 0 ? samples / m.timed_seconds : 0.0;
  c.emplace_back("samples_per_second", samples_per_second);
  c.emplace_back("step_ms", m.steps > 0 ? 1e3 * m.timed_seconds / m.steps : 0.0);
  c.emplace_back("tflops", 3.0 * m.forward_flops_per_sample * samples_per_second / 1e12);
  AddWarmupCounters(m.warmup, c);
  AddKernelCounters(m.kernel_busy, c);
  if (m.amp_skipped_steps) c.emplace_back("amp_skipped_steps", static_cast<double>(*m.amp_skipped_steps));
  if (m.peak_alloc_bytes) c.emplace_back("peak_alloc_MB", *m.peak_alloc_bytes / kBytesPerMB);
  if (m.peak_flops && m.forward_flops_per_sample > 0) {
    c.emplace_back("mfu_pct", MfuPct(m.forward_flops_per_sample, samples_per_second, *m.peak_flops));
  }
  return c;
}

CounterList PerturbationCounters(const Perturbation& p) {
  if (!p.any()) return {};
  return {{"perturbed", static_cast<double>(p.pauses)}, {"paused_s", p.paused_seconds}};
}

}  // namespace trainbench
