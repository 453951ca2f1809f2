// Which counters a benchmark reports, and their values, from what it measured. Pure and
// torch-free so the presence rules are unit-tested: a counter whose measurement does not
// exist on a device (allocator peaks, GPU busy time and NVML on CPU) is left out, never 0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace trainbench {

inline constexpr double kBytesPerMB = 1024.0 * 1024.0;  // MB = 2^20 bytes, as the lab prints

struct EpochMeasurements {
  int epochs = 0;
  int64_t samples_per_epoch = 0;
  double timed_seconds = 0;      // sum of the epochs' manual (event or steady-clock) times
  double wall_seconds = 0;       // sum of the epochs' host-clock times, synchronized
  double data_wait_seconds = 0;  // training thread waiting for the next batch
  std::optional<double> busy_seconds;  // compute stream executing steps (CUDA)
  std::optional<int64_t> peak_alloc_bytes;     // CUDA caching allocator
  std::optional<int64_t> peak_reserved_bytes;  // CUDA caching allocator
  std::optional<double> nvml_util_pct;         // NVML utilization.gpu, mean of samples
  std::optional<int64_t> host_peak_rss_bytes;
  int64_t parameters = 0;
  double train_loss = 0;  // mean over the last epoch's batches
  double test_acc = 0;    // 0..1
};

using CounterList = std::vector<std::pair<std::string, double>>;

// samples_per_second, wall_s_per_epoch, data_wait_pct, params_M, train_loss, test_acc always;
// gpu_busy_pct, peak_alloc_MB, peak_reserved_MB, nvml_util_pct, host_peak_rss_MB when measured.
CounterList EpochCounters(const EpochMeasurements& m);

struct StepMeasurements {
  int64_t steps = 0;
  int64_t batch = 0;
  double timed_seconds = 0;
  double forward_flops_per_sample = 0;
  std::optional<int64_t> peak_alloc_bytes;
};

// samples_per_second, step_ms, tflops (forward + backward = 3x forward FLOPs); peak_alloc_MB
// when measured.
CounterList StepCounters(const StepMeasurements& m);

}  // namespace trainbench
