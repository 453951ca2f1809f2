// BM_TrainEpoch: one benchmark iteration is one training epoch over the training set, with
// the data loader (workers, pinned memory) in the loop, as the lab's Parts 1-4 train.
//
// Timed section: from before the epoch's loader is created (its threads start) to after the
// last optimizer step, on the device's clock (CUDA events on the compute stream, or a steady
// clock on CPU). Everything after it (loss read-back, test accuracy) is diagnostics.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>

#include "bench/counters.h"
#include "bench/env.h"
#include "fixtures/host_memory.h"
#include "fixtures/loader.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

// Stops NVML sampling however the timed epochs end, so that no sampler thread outlives a
// benchmark that threw (the last one's would still be calling NVML at process exit).
class UtilizationSampling {
 public:
  explicit UtilizationSampling(DeviceContext& ctx) : ctx_(ctx) { ctx_.StartUtilizationSampling(); }
  ~UtilizationSampling() { Stop(); }
  std::optional<double> Stop() { return ctx_.StopUtilizationSampling(); }

 private:
  DeviceContext& ctx_;
};

// Runs warm-up steps through the same loader settings, on negative epochs so the timed
// epochs see the same batches whatever the warm-up length.
void WarmUp(Trainer& trainer, DeviceContext& ctx, const ImageSet& train, const LoaderOptions& lo,
            int steps) {
  int done = 0;
  for (int64_t pass = -1; done < steps; --pass) {
    EpochLoader loader(train, lo, pass);
    while (done < steps) {
      ThrowIfInterrupted();  // issue 9: SIGINT/SIGTERM stop at a step boundary
      std::optional<HostBatch> host = loader.Next();
      if (!host) break;
      DeviceBatch b = ctx.Stage(host->images, host->labels, lo.pinned);
      ctx.Use(b);
      trainer.Step(b.images, b.labels);
      ++done;
    }
  }
  ctx.Synchronize();
}

struct EpochResult {
  double timed_seconds = 0;
  double wall_seconds = 0;
  double wait_seconds = 0;
  std::optional<double> busy_seconds;
  double mean_loss = 0;
};

// One timed epoch. The copy of batch i+1 is started before step i runs, so with pinned
// memory it overlaps compute on the copy stream.
EpochResult RunEpoch(Trainer& trainer, DeviceContext& ctx, const ImageSet& train,
                     const LoaderOptions& lo, int64_t epoch) {
  EpochResult r;
  ctx.Synchronize();
  ctx.ResetStepMarks();
  const auto wall_start = std::chrono::steady_clock::now();
  std::unique_ptr<IntervalTimer> timer = ctx.NewTimer();
  timer->Start();
  // ---- timed section starts
  EpochLoader loader(train, lo, epoch);
  at::Tensor loss_sum = at::zeros({}, at::TensorOptions().device(ctx.device()).dtype(at::kFloat));
  std::optional<DeviceBatch> next;
  if (std::optional<HostBatch> h = loader.Next()) next = ctx.Stage(h->images, h->labels, lo.pinned);
  while (next) {
    ThrowIfInterrupted();  // issue 9: SIGINT/SIGTERM stop at a step boundary
    DeviceBatch current = std::move(*next);
    next.reset();
    if (std::optional<HostBatch> h = loader.Next()) next = ctx.Stage(h->images, h->labels, lo.pinned);
    ctx.Use(current);
    ctx.MarkStepBegin();
    loss_sum += trainer.Step(current.images, current.labels);
    ctx.MarkStepEnd();
  }
  timer->Stop();
  // ---- timed section ends
  r.timed_seconds = timer->ElapsedSeconds();
  ctx.Synchronize();
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  r.wait_seconds = loader.wait_seconds();
  r.busy_seconds = ctx.StepBusySeconds();
  r.mean_loss = loss_sum.item<double>() / static_cast<double>(loader.num_batches());
  return r;
}

void TrainEpochBenchmark(benchmark::State& state, const EpochConfig& c, const BenchEnv& env) {
  DeviceContext* ctx = ContextOrSkip(state, env, c.device, c.precision);
  if (ctx == nullptr) return;
  if (!FitsInMemoryOrSkip(state, env, *ctx, c)) return;  // issue 9: memory guard
  const std::string name = BenchmarkName(c);
  const ImageSet& train = env.data.train;
  const LoaderOptions lo{c.batch, c.workers, c.pin, env.run.seed};
  EpochMeasurements m;
  m.samples_per_epoch = train.count;
  const bool rss_resettable = ResetPeakRss();
  const bool ok = RunOrSkip(state, name, BatchAndModel(c.batch, c.model), *ctx, [&] {
    ctx->SetTf32(c.precision == Precision::kTf32);
    Trainer trainer(c.model, c.precision, *ctx, env.run.seed);
    m.parameters = trainer.parameter_count();
    WarmUp(trainer, *ctx, train, lo, env.run.warmup_steps);
    ctx->ResetPeakMemory();
    UtilizationSampling sampling(*ctx);
    int64_t epoch = 0;
    for (auto _ : state) {
      const EpochResult r = RunEpoch(trainer, *ctx, train, lo, epoch);
      state.SetIterationTime(r.timed_seconds);
      m.timed_seconds += r.timed_seconds;
      m.wall_seconds += r.wall_seconds;
      m.data_wait_seconds += r.wait_seconds;
      if (r.busy_seconds) m.busy_seconds = m.busy_seconds.value_or(0) + *r.busy_seconds;
      m.train_loss = r.mean_loss;
      ++epoch;
      if (!env.run.quiet) {
        std::fprintf(stderr, "[trainbench] %s epoch %lld/%lld: %.0f samples/s, %.2f s, loss %.4f\n",
                     name.c_str(), static_cast<long long>(epoch),
                     static_cast<long long>(state.max_iterations),
                     static_cast<double>(train.count) / r.timed_seconds, r.timed_seconds,
                     r.mean_loss);
      }
    }
    m.epochs = static_cast<int>(epoch);
    m.nvml_util_pct = sampling.Stop();
    if (auto peaks = ctx->PeakMemory()) {
      m.peak_alloc_bytes = peaks->allocated_bytes;
      m.peak_reserved_bytes = peaks->reserved_bytes;
    }
    ThrowIfInterrupted();  // issue 9: not into the evaluation pass after a stop
    m.test_acc = trainer.Evaluate(env.data.test);
  });
  if (!ok) return;
  if (rss_resettable) m.host_peak_rss_bytes = PeakRssBytes();
  for (const auto& [key, value] : EpochCounters(m)) state.counters[key] = value;
}

}  // namespace

void RegisterTrainEpoch(const std::vector<EpochConfig>& configs, const BenchEnv& env) {
  for (const EpochConfig& c : configs) {
    benchmark::RegisterBenchmark(BenchmarkName(c).c_str(),
                                 [c, &env](benchmark::State& st) { TrainEpochBenchmark(st, c, env); })
        ->UseManualTime()
        ->Iterations(env.run.epochs)
        ->Unit(benchmark::kSecond);
  }
}

}  // namespace trainbench
