// What every benchmark family shares: the data, the device contexts and the run options read
// from the flags once in main. Families register themselves against it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/status/status.h"
#include "bench/suite/lab_suite.h"
#include "bench/harness/memory_guard.h"
#include "common/first_line.h"
#include "common/sample_stats.h"
#include "fixtures/dataset.h"
#include "fixtures/device.h"

namespace trainbench {

struct RunOptions {
  int warmup_steps = 5;  // untimed optimizer steps before the first timed one, at least
  // Untimed warm-up lasts at least this long too (clocks up, caches and plans built);
  // negative: kCudaWarmupSeconds on CUDA, none on CPU.
  double warmup_seconds = -1;
  int epochs = 2;  // timed epochs per BM_TrainEpoch benchmark
  uint64_t seed = 0;
  bool quiet = false;  // no per-epoch progress lines on stderr
  AdamKind adam = AdamKind::kFused;
  bool trace_epoch = true;       // one untimed epoch (or step iteration) traced for kernel time
  bool memory_guard = true;      // skip benchmarks whose estimated memory need does not fit
  bool channels_last = false;    // NHWC weights and activations
  bool cudnn_benchmark = false;  // autotuned cuDNN convolutions
  // How many timed samples (epochs, iterations of steps) a row takes: --epochs for
  // BM_TrainEpoch, Google Benchmark's choice for BM_TrainStep, unless --max_noise turns the
  // criterion on (bench/families/sampling.h).
  StoppingCriterion criterion;

  // Warm-up by stability after the --warmup_steps floor, with WarmupStability's window,
  // tolerance and ceiling (common/sample_stats.h says why those); a floor above the ceiling
  // raises it.
  [[nodiscard]] WarmupStability Stability() const {
    WarmupStability s;
    s.floor_steps = warmup_steps;
    s.ceiling_steps = std::max<int64_t>(warmup_steps, s.ceiling_steps);
    return s;
  }

  static constexpr double kCudaWarmupSeconds = 0.5;
  [[nodiscard]] double WarmupSeconds(DeviceKind d) const {
    if (warmup_seconds >= 0) return warmup_seconds;
    return d == DeviceKind::kCuda ? kCudaWarmupSeconds : 0.0;
  }
};

struct Harness {
  FashionMnist data;
  std::unique_ptr<DeviceContext> cpu;
  std::unique_ptr<DeviceContext> cuda;  // null without a GPU
  RunOptions run;

  [[nodiscard]] DeviceContext* context(DeviceKind d) const { return d == DeviceKind::kCuda ? cuda.get() : cpu.get(); }
};

// REQUIRES: env outlives benchmark::RunSpecifiedBenchmarks.
void RegisterTrainEpoch(const std::vector<EpochConfig>& configs, const Harness& env);
void RegisterTrainStep(const std::vector<StepConfig>& configs, const Harness& env);
// BM_HostToDevice and BM_DeviceToHost for each configuration; only when env.cuda is set.
void RegisterTransfers(const std::vector<TransferConfig>& configs, const Harness& env);
// BM_DataLoader for each configuration; pin:1 ones only when env.cuda is set.
void RegisterDataLoader(const std::vector<LoaderConfig>& configs, const Harness& env);

// "batch:256 model:Large", for out-of-memory messages.
std::string BatchAndModel(int64_t batch, ModelKind model);

// The context for device, or nullptr after skipping the benchmark with the reason (no GPU,
// a context lost to a sticky error, a precision the device does not run, or "not run:
// interrupted by SIGINT" after a stop).
DeviceContext* ContextOrSkip(benchmark::State& state, const Harness& env, DeviceKind device, Precision precision);

// Why ContextOrSkip would skip (no GPU, a lost context, a precision the device does not run),
// or nullopt.
std::optional<std::string> WhyNoContext(const Harness& env, DeviceKind device, Precision precision);

// Whether an exception's first line reports an allocation failure: LibTorch's
// OutOfMemoryError, a failed cudaMalloc/cudaHostAlloc (AcceleratorError), cuBLAS or cuDNN
// failing to allocate a workspace (cuDNN 9: ..._HOST_ALLOCATION_FAILED, ..._DEVICE_ALLOCATION_FAILED), or the CPU
// allocator.
[[nodiscard]] bool IsOutOfMemoryMessage(const std::string& first_line);

// Runs body on ctx's device. A device lost earlier runs nothing and returns its reason
// ("CUDA context lost: <first error>"). The device's cached memory is released first, so the
// benchmark's memory peaks are its own. An exception returns a one-line reason (on
// out-of-memory naming what_ran, e.g. "out of memory at batch:256 model:Large: ..."); the
// device is then recovered (caches released, body's tensors are gone by then) or marked
// lost, so that later benchmarks still run or are skipped with the reason.
absl::Status RunGuarded(DeviceContext& ctx, const std::string& what_ran, const std::function<void()>& body);

// RunGuarded, turning a failure into the benchmark's skip reason (and a line on stderr).
// Returns whether body completed. After SIGINT/SIGTERM (bench/harness/interrupt.h): a body cut short
// by ThrowIfInterrupted is skipped as "interrupted by SIGINT"; one not yet started is not run
// ("not run: interrupted by SIGINT").
bool RunOrSkip(benchmark::State& state, const std::string& name, const std::string& what_ran, DeviceContext& ctx,
               const std::function<void()>& body);

// Runs span (untimed diagnostics) under ctx's kernel tracer and returns the trace: nullopt
// with --trace_epoch=false, where the device cannot trace, after a stop request, or when a
// stop request cuts span short (the benchmark's timed results stand; later benchmarks are
// not run). The tracer is stopped however span ends.
std::optional<KernelTrace> TraceKernels(const Harness& env, DeviceContext& ctx, const std::function<void()>& span);

// Registers body as the benchmark name, and notes the name in RegisteredNames. A run that body
// skips before its timing loop still reports the iterations it was given, so that Google
// Benchmark can aggregate the finished --benchmark_repetitions around it.
benchmark::internal::Benchmark* RegisterNamed(const std::string& name, std::function<void(benchmark::State&)> body);
// Every name registered through RegisterNamed (and RegisterGuarded), in order: what the ranks
// of a world compare before they run (CheckSameRun).
std::vector<std::string>& RegisteredNames();

// Registers body as the benchmark name (RegisterNamed). An exception that escapes body (none should: the
// families run their device work under RunOrSkip) skips that benchmark with "unexpected
// error: <first line>" instead of ending the process and every benchmark after it.
benchmark::internal::Benchmark* RegisterGuarded(const std::string& name, std::function<void(benchmark::State&)> body);

// Registers body(state, c, env) as BenchmarkName(c) for each configuration (RegisterGuarded),
// timed manually and reported in unit; iterations > 0 fixes the iteration count (one epoch
// each for BM_TrainEpoch).
template <typename Config, typename Body>
void RegisterEach(const std::vector<Config>& configs, const Harness& env, Body body, benchmark::TimeUnit unit,
                  int64_t iterations = 0) {
  for (const Config& c : configs) {
    benchmark::internal::Benchmark* b =
        RegisterGuarded(BenchmarkName(c), [c, &env, body](benchmark::State& st) { body(st, c, env); });
    b->UseManualTime()->Unit(unit);
    if (iterations > 0) b->Iterations(iterations);
  }
}

// The step-boundary check: throws Interrupted (bench/harness/interrupt.h) once SIGINT or SIGTERM has
// arrived, for RunOrSkip to record. Called between steps by the training and loader loops.
void ThrowIfInterrupted();

// The memory guard (bench/harness/memory_guard.h): false after skipping the benchmark with "needs about
// X GiB, Y GiB available" when its estimated need does not fit what ctx (and, for CUDA, the
// host) can still give; true when it fits, when nothing is known, or with --no_memory_guard.
bool FitsInMemoryOrSkip(benchmark::State& state, const Harness& env, DeviceContext& ctx, const EpochConfig& c);
bool FitsInMemoryOrSkip(benchmark::State& state, const Harness& env, DeviceContext& ctx, const StepConfig& c);
// The memory guard's reason for an epoch, without skipping: processes is how many processes
// on this host (ranks of a world) each need as much host memory at once.
std::optional<std::string> WhyNotInMemory(const Harness& env, DeviceContext& ctx, const EpochConfig& c,
                                          int processes = 1);
bool FitsInMemoryOrSkip(benchmark::State& state, const Harness& env, DeviceContext& ctx, const LoaderConfig& c);

}  // namespace trainbench
