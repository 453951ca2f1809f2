// BM_TrainStep: optimizer steps on batches already resident on the device, with no loader
// and no copies: each configuration's compute ceiling, to set BM_TrainEpoch against, and the
// lab's "why small models don't benefit from a GPU" in isolation.
//
// One benchmark iteration is kCudaStepsPerIteration steps on CUDA (so the host can queue
// ahead, as it does in a real epoch, and one event pair times them all) and one step on CPU.
// step_ms is per step on both.
//
// After timing, one more iteration runs untimed under the kernel tracer (CUDA with CUPTI):
// kernel_ms_per_step against step_ms is the launch-bound share of a step.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <ATen/ops/empty.h>
#include "bench/families/counters.h"
#include "bench/families/sampling.h"
#include "bench/harness/harness.h"
#include "fixtures/loader.h"
#include "fixtures/transform.h"
#include "models/models.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

// Each iteration ends by reading its stop event, which drains the queue: the next
// iteration's first step then starts with the GPU idle while the host launches it. That
// costs at most about one step's launch time per iteration, so 128 steps keep it under 1%
// (at 10 it could be 10% for a host-bound Small step).
constexpr int kCudaStepsPerIteration = 128;

// With a stopping criterion, a sample spans enough iterations to last at least this long, s:
// a CPU step of a few ms is at the mercy of one timer tick or one preemption, so 3 one-step
// samples (21 ms in all for Medium b16) moved a row by 38% between runs where Google
// Benchmark's half second of steps did not.
constexpr double kMinSampleSeconds = 0.1;

// Resident batches of batch_size training samples each (the set repeats when it is smaller),
// augmented once, already on the device.
std::vector<DeviceBatch> MakeResidentBatches(const ImageSet& train, int64_t batch_size, uint64_t seed,
                                             DeviceContext& ctx) {
  const int64_t count = std::clamp<int64_t>(train.count / batch_size, 1, kMaxResidentBatches);
  std::vector<DeviceBatch> out;
  for (int64_t b = 0; b < count; ++b) {
    std::vector<int64_t> indices(static_cast<size_t>(batch_size));
    for (int64_t i = 0; i < batch_size; ++i) indices[i] = (b * batch_size + i) % train.count;
    at::Tensor images = at::empty({batch_size, 1, kImageSide, kImageSide}, at::kFloat);
    at::Tensor labels = at::empty({batch_size}, at::kLong);
    std::mt19937_64 rng = BatchRng(seed, /*epoch=*/0, b);
    MakeTrainBatch(train, indices.data(), batch_size, rng, images.data_ptr<float>(), labels.data_ptr<int64_t>());
    DeviceBatch d;
    d.images = images.to(ctx.device());
    d.labels = labels.to(ctx.device());
    out.push_back(std::move(d));
  }
  return out;
}

void TrainStepBenchmark(benchmark::State& state, const StepConfig& c, const Harness& env) {
  DeviceContext* ctx = ContextOrSkip(state, env, c.device, c.precision);
  if (ctx == nullptr) return;
  if (!FitsInMemoryOrSkip(state, env, *ctx, c)) return;  // before anything is allocated
  const int steps_per_iteration = c.device == DeviceKind::kCuda ? kCudaStepsPerIteration : 1;
  StepMeasurements m;
  m.batch = c.batch;
  m.forward_flops_per_sample = ForwardFlopsPerSample(c.model);
  m.peak_flops = ctx->PeakFlops(c.precision);
  SampleRecord samples;
  const bool ok = RunOrSkip(state, BenchmarkName(c), BatchAndModel(c.batch, c.model), *ctx, [&] {
    ctx->SetTf32(c.precision == Precision::kTf32);
    Trainer trainer(c.model, c.precision, *ctx, env.run.seed, env.run.adam, env.run.channels_last);
    const std::vector<DeviceBatch> batches = MakeResidentBatches(env.data.train, c.batch, env.run.seed, *ctx);
    if (c.graph) trainer.CaptureStep(batches[0].images, batches[0].labels);
    size_t next = 0;
    const auto step = [&] {
      ThrowIfInterrupted();  // SIGINT/SIGTERM stop at a step boundary
      trainer.Step(batches[next].images, batches[next].labels);
      next = (next + 1) % batches.size();
    };
    // Warm-up: at least warmup_steps and WarmupSeconds on the host clock, then until step time
    // has settled (each step synchronized, so that its time is the device's too).
    const double warmup_seconds = env.run.WarmupSeconds(c.device);
    const WarmupStability stability = env.run.Stability();
    const auto warmup_start = std::chrono::steady_clock::now();
    const auto since_s = [](auto start) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    std::vector<double> warmup_step_s;
    const bool warm_up = WarmsUp(env.run.warmup_steps, warmup_seconds);
    while (warm_up && (static_cast<int>(warmup_step_s.size()) < env.run.warmup_steps ||
                       since_s(warmup_start) < warmup_seconds || !WarmupSettled(stability, warmup_step_s))) {
      const auto before = std::chrono::steady_clock::now();
      step();
      ctx->Synchronize();
      warmup_step_s.push_back(since_s(before));
    }
    m.warmup = WarmupTaken{static_cast<int64_t>(warmup_step_s.size()), since_s(warmup_start)};
    // One iteration's time from the warm-up's settled window (its median step).
    const int64_t iterations_per_sample =
        env.run.criterion.on()
            ? IterationsPerSample(
                  steps_per_iteration * MedianOfLast(warmup_step_s, static_cast<size_t>(stability.window_steps)),
                  kMinSampleSeconds)
            : 1;
    const int64_t skipped_before = trainer.scaler() ? trainer.scaler()->skipped_steps() : 0;
    ctx->ResetPeakMemory();
    std::unique_ptr<IntervalTimer> timer = ctx->NewTimer();
    const int64_t steps_per_sample = steps_per_iteration * iterations_per_sample;
    samples = TakeSamples(
        state, env.run.criterion,
        [&] {
          timer->Start();
          for (int64_t i = 0; i < steps_per_sample; ++i) step();
          timer->Stop();
          const double seconds = timer->ElapsedSeconds();
          m.timed_seconds += seconds;
          m.steps += steps_per_sample;
          return seconds;
        },
        iterations_per_sample);
    if (auto peaks = ctx->PeakMemory()) m.peak_alloc_bytes = peaks->allocated_bytes;
    if (trainer.scaler()) m.amp_skipped_steps = trainer.scaler()->skipped_steps() - skipped_before;
    // ---- diagnostics: one untimed iteration under the kernel tracer.
    if (const std::optional<KernelTrace> t = TraceKernels(env, *ctx, [&] {
          for (int i = 0; i < steps_per_iteration; ++i) step();
        })) {
      m.kernel_busy = KernelBusy{t->wall_seconds, t->kernel_busy_seconds, steps_per_iteration};
    }
  });
  if (!ok) return;
  for (const auto& [key, value] : StepCounters(m)) state.counters[key] = value;
  AddNoiseCounters(samples, state);
  if (const std::string line = NoiseLine(BenchmarkName(c), env.run.criterion, samples); !line.empty()) {
    std::fprintf(stderr, "trainbench: %s\n", line.c_str());
  }
}

}  // namespace

void RegisterTrainStep(const std::vector<StepConfig>& configs, const Harness& env) {
  RegisterEach(configs, env, TrainStepBenchmark, benchmark::kMillisecond, RegisterIterations(env.run.criterion, 0));
}

}  // namespace trainbench
