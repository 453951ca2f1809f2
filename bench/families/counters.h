// Every counter trainbench reports, declared once (CounterSpecs: name, unit, which direction is
// better, the families that report it, a one-line meaning), and the epoch and step counters'
// values from what a benchmark measured. The declaration goes into each run's context as
// "counters" (CountersJson), where the tools read directions from; docs/counters.md's table is
// checked against it. Pure and torch-free so the presence rules are unit-tested: a counter
// whose measurement does not exist on a device (allocator peaks, GPU busy time and NVML on CPU)
// is left out, never 0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "bench/harness/perturbation.h"

namespace trainbench {

// Which way a counter is better: compare and the report judge a change by it; kNeither is
// shown and never judged (a count of buckets, the parameters).
enum class Better { kHigher, kLower, kNeither };

struct CounterSpec {
  absl::string_view name;  // as in the JSON: an interface, like benchmark names
  absl::string_view unit;  // "samples/s", "%", "MB = 2^20 bytes"
  Better better;
  absl::string_view families;  // "BM_TrainEpoch, BM_TrainStep": the families that report it
  absl::string_view meaning;   // one line
};

// Every counter, in the order docs/counters.md lists them.
[[nodiscard]] absl::Span<const CounterSpec> CounterSpecs();
// The declaration by name; nullptr for a name not declared.
[[nodiscard]] const CounterSpec* FindCounter(absl::string_view name);
[[nodiscard]] absl::string_view BetterName(Better b);  // "higher", "lower", "neither"
// The "counters" context value: {"counters": [{"name": ..., "unit": ..., "better": ...,
// "families": [...], "meaning": ...}, ...]}
[[nodiscard]] std::string CountersJson();

inline constexpr double kBytesPerMB = 1024.0 * 1024.0;  // MB = 2^20 bytes, as the lab prints

// Kernel time over an untimed traced span (CUPTI), in seconds.
struct KernelBusy {
  double wall_seconds = 0;    // the traced span
  double kernel_seconds = 0;  // time at least one kernel ran
  int64_t steps = 0;          // optimizer steps in the span
};

// A data-parallel epoch (BM_TrainEpoch/.../ranks:N), measured on every rank and combined.
struct DataParallelMeasurements {
  // Each timed (synced) epoch is followed by its no-sync twin: the same ranks on the same
  // shards and batches with no gradient all-reduce, from the same weights. Pair i is
  // synced_seconds[i] (the slowest rank's) and nosync_seconds[i] (the slowest rank's),
  // in seconds; interleaved, a load that comes and goes weighs on both sides of a pair.
  std::vector<double> synced_seconds;
  std::vector<double> nosync_seconds;
  // The fastest rank in each no-sync epoch, s: each rank's own speed there (synced, every
  // rank waits for the slowest at each step).
  std::vector<double> rank_min_seconds;
  // Gradient buckets after the rebuild (GradientSync::buckets).
  int64_t buckets = 0;
};

// Warm-up before the timed samples: the steps it took (floor, stability, the tail batch) and
// its host-clock seconds.
struct WarmupTaken {
  int64_t steps = 0;
  double seconds = 0;
};

struct EpochMeasurements {
  int epochs = 0;
  std::optional<WarmupTaken> warmup;
  int64_t samples_per_epoch = 0;
  double timed_seconds = 0;                    // sum of the epochs' manual (event or steady-clock) times
  double wall_seconds = 0;                     // sum of the epochs' host-clock times, synchronized
  double data_wait_seconds = 0;                // training thread waiting for the next batch
  std::optional<double> step_span_seconds;     // compute stream between step begin/end events (CUDA)
  std::optional<KernelBusy> kernel_busy;       // the traced, untimed epoch (CUDA with CUPTI)
  std::optional<int64_t> amp_skipped_steps;    // fp16: steps skipped for inf/nan gradients
  std::optional<int64_t> peak_alloc_bytes;     // CUDA caching allocator
  std::optional<int64_t> peak_reserved_bytes;  // CUDA caching allocator
  std::optional<double> nvml_util_pct;         // NVML utilization.gpu, mean of samples
  std::optional<int64_t> host_peak_rss_bytes;
  int64_t parameters = 0;
  double forward_flops_per_sample = 0;  // models/models.h ForwardFlopsPerSample
  std::optional<double> peak_flops;     // the device's dense peak, FLOP/s (CUDA, known GPU)
  double train_loss = 0;                // mean over the last epoch's batches
  double test_acc = 0;                  // 0..1
  // With ranks > 1: timed_seconds is the slowest rank's (each epoch ends when the last rank's
  // does) and samples_per_epoch the whole training set, so samples_per_second is global.
  std::optional<DataParallelMeasurements> data_parallel;
};

using CounterList = std::vector<std::pair<std::string, double>>;

// samples_per_second, wall_s_per_epoch, data_wait_pct, params_M, train_loss, test_acc always;
// step_span_pct, gpu_kernel_busy_pct, kernel_ms_per_step, amp_skipped_steps, peak_alloc_MB,
// peak_reserved_MB, nvml_util_pct, host_peak_rss_MB, mfu_pct when measured; for a
// data-parallel epoch also nosync_samples_per_second, scaling_efficiency (the no-sync epoch's
// time over the timed epochs': global samples/s over N times what each rank does without
// gradient sync), comm_exposed_pct (the share of the timed epoch that gradient sync added,
// 100 x (1 - scaling_efficiency); slightly negative when sync cost nothing measurable and
// noise favoured the synced epochs), comm_exposed_sd_pct (with 2 pairs or more: the standard
// deviation, in percentage points, of each pair's own comm_exposed_pct), rank_max_s,
// rank_min_s (means over the no-sync epochs) and ddp_buckets (gradient buckets after the
// rebuild).
CounterList EpochCounters(const EpochMeasurements& m);

struct StepMeasurements {
  int64_t steps = 0;
  std::optional<WarmupTaken> warmup;
  int64_t batch = 0;
  double timed_seconds = 0;
  double forward_flops_per_sample = 0;
  std::optional<double> peak_flops;  // the device's dense peak, FLOP/s (CUDA, known GPU)
  std::optional<int64_t> peak_alloc_bytes;
  std::optional<KernelBusy> kernel_busy;     // one traced, untimed iteration (CUDA with CUPTI)
  std::optional<int64_t> amp_skipped_steps;  // fp16
};

// samples_per_second, step_ms, tflops (forward + backward = 3x forward FLOPs);
// gpu_kernel_busy_pct, kernel_ms_per_step, amp_skipped_steps, peak_alloc_MB, mfu_pct when
// measured.
CounterList StepCounters(const StepMeasurements& m);

// perturbed (pauses) and paused_s, for a row of any family that was paused while it ran; none
// for a row that was not (so a clean run's rows are as before).
CounterList PerturbationCounters(const Perturbation& p);

// Model FLOPs utilization, %: the model's training FLOP/s (forward + backward = 3x the
// forward FLOPs per sample, times samples/s) against the device's dense peak FLOP/s.
[[nodiscard]] double MfuPct(double forward_flops_per_sample, double samples_per_second, double peak_flops);

}  // namespace trainbench
