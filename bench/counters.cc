#include "bench/counters.h"

namespace trainbench {
namespace {

void AddKernelCounters(const std::optional<KernelBusy>& k, CounterList& c) {
  if (!k || k->wall_seconds <= 0 || k->steps <= 0) return;
  c.emplace_back("gpu_kernel_busy_pct", 100.0 * k->kernel_seconds / k->wall_seconds);
  c.emplace_back("kernel_ms_per_step", 1e3 * k->kernel_seconds / static_cast<double>(k->steps));
}

}  // namespace

double MfuPct(double forward_flops_per_sample, double samples_per_second, double peak_flops) {
  return peak_flops > 0 ? 100.0 * 3.0 * forward_flops_per_sample * samples_per_second / peak_flops : 0.0;
}

CounterList EpochCounters(const EpochMeasurements& m) {
  CounterList c;
  const double samples = static_cast<double>(m.samples_per_epoch) * m.epochs;
  const double samples_per_second = m.timed_seconds > 0 ? samples / m.timed_seconds : 0.0;
  c.emplace_back("samples_per_second", samples_per_second);
  c.emplace_back("wall_s_per_epoch", m.epochs > 0 ? m.wall_seconds / m.epochs : 0.0);
  c.emplace_back("data_wait_pct",
                 m.timed_seconds > 0 ? 100.0 * m.data_wait_seconds / m.timed_seconds : 0.0);
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
  if (const auto& dp = m.data_parallel; dp && dp->nosync_seconds > 0 && m.epochs > 0 && m.timed_seconds > 0) {
    const double synced_epoch_s = m.timed_seconds / m.epochs;
    const double efficiency = dp->nosync_seconds / synced_epoch_s;
    c.emplace_back("nosync_samples_per_second", static_cast<double>(m.samples_per_epoch) / dp->nosync_seconds);
    c.emplace_back("scaling_efficiency", efficiency);
    c.emplace_back("comm_exposed_pct", 100.0 * (1.0 - efficiency));
    c.emplace_back("rank_max_s", dp->nosync_seconds);
    c.emplace_back("rank_min_s", dp->rank_min_seconds);
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
  AddKernelCounters(m.kernel_busy, c);
  if (m.amp_skipped_steps) c.emplace_back("amp_skipped_steps", static_cast<double>(*m.amp_skipped_steps));
  if (m.peak_alloc_bytes) c.emplace_back("peak_alloc_MB", *m.peak_alloc_bytes / kBytesPerMB);
  if (m.peak_flops && m.forward_flops_per_sample > 0) {
    c.emplace_back("mfu_pct", MfuPct(m.forward_flops_per_sample, samples_per_second, *m.peak_flops));
  }
  return c;
}

}  // namespace trainbench
