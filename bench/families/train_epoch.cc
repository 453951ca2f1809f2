// BM_TrainEpoch: one benchmark iteration is one training epoch over the training set, with
// the data loader (workers, pinned memory) in the loop, as the lab's Parts 1-4 train.
//
// Timed section: from before the epoch's loader is created (its threads start) to after the
// last optimizer step, on the device's clock (CUDA events on the compute stream, or a steady
// clock on CPU). Everything after it (loss read-back, test accuracy, the kernel-traced extra
// epoch) is diagnostics.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "bench/families/counters.h"
#include "bench/harness/harness.h"
#include "bench/families/epoch_loop.h"
#include "bench/families/sampling.h"
#include "fixtures/host_memory.h"
#include "fixtures/loader.h"
#include "fixtures/warmup.h"
#include "models/models.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

void TrainEpochBenchmark(benchmark::State& state, const EpochConfig& c, const Harness& env) {
  DeviceContext* ctx = ContextOrSkip(state, env, c.device, c.precision);
  if (ctx == nullptr) return;
  if (!FitsInMemoryOrSkip(state, env, *ctx, c)) return;  // before anything is allocated
  const std::string name = BenchmarkName(c);
  const ImageSet& train = env.data.train;
  LoaderOptions lo{c.batch, c.workers, c.pin, env.run.seed};
  if (c.pin) lo.pinned_memory = ctx->PinnedAllocator();
  EpochMeasurements m;
  m.samples_per_epoch = train.count;
  m.forward_flops_per_sample = ForwardFlopsPerSample(c.model);
  m.peak_flops = ctx->PeakFlops(c.precision);
  bool rss_resettable = ResetPeakRss();
  SampleRecord samples;
  const bool ok = RunOrSkip(state, name, BatchAndModel(c.batch, c.model), *ctx, [&] {
    ctx->SetTf32(c.precision == Precision::kTf32);
    Trainer trainer(c.model, c.precision, *ctx, env.run.seed, env.run.adam, env.run.channels_last);
    m.parameters = trainer.parameter_count();
    if (c.graph) {
      // Captured before any loader thread starts (a capture forbids other threads' CUDA
      // allocations): on the first batch of a warm-up pass, built on this thread.
      LoaderOptions on_this_thread = lo;
      on_this_thread.workers = 0;
      const EpochLoader first(train, on_this_thread, -1);
      DeviceBatch b = ctx->Stage(first.Build(0), lo.pinned);
      ctx->Use(b);
      trainer.CaptureStep(b.images, b.labels);
    }
    // The warm-up lasts until step times settle, a different number of steps on each run:
    // the timed epochs start from the weights it started from (train_loss, test_acc).
    std::optional<TrainingSnapshot> before_warmup(std::in_place, trainer);
    WarmupOptions warmup{env.run.warmup_steps, env.run.WarmupSeconds(c.device)};
    warmup.stability = env.run.Stability();
    warmup.synchronize = [&] { ctx->Synchronize(); };
    const auto warmup_start = std::chrono::steady_clock::now();
    m.warmup = WarmupTaken{};
    m.warmup->steps = static_cast<int64_t>(WarmUpOnLoader(train, lo, warmup, [&](const HostBatch& h) {
                                             ThrowIfInterrupted();  // SIGINT/SIGTERM stop at a step boundary
                                             DeviceBatch b = ctx->Stage(h, lo.pinned);
                                             ctx->Use(b);
                                             trainer.Step(b.images, b.labels);
                                           }).size());
    before_warmup->Restore();
    before_warmup.reset();
    // Again without the snapshot's host copies (parameters, buffers, Adam's state): the row's
    // peak RSS is the training's, as before the timed epochs started from a snapshot.
    rss_resettable = ResetPeakRss();
    m.warmup->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - warmup_start).count();
    ctx->Synchronize();
    const int64_t skipped_before = trainer.scaler() ? trainer.scaler()->skipped_steps() : 0;
    ctx->ResetPeakMemory();
    UtilizationSampling sampling(*ctx);
    int64_t epoch = 0;
    samples = TakeSamples(state, env.run.criterion, [&] {
      const EpochResult r = RunEpoch(trainer, *ctx, train, lo, epoch);
      m.timed_seconds += r.timed_seconds;
      m.wall_seconds += r.wall_seconds;
      m.data_wait_seconds += r.wait_seconds;
      if (r.step_span_seconds) {
        m.step_span_seconds = m.step_span_seconds.value_or(0) + *r.step_span_seconds;
      }
      m.train_loss = r.mean_loss;
      ++epoch;
      if (!env.run.quiet) {
        // "epoch 3/20" with a fixed count; "epoch 3" under the stopping criterion.
        const std::string of =
            env.run.criterion.on() ? "" : absl::StrCat("/", static_cast<long long>(state.max_iterations));
        std::fprintf(stderr, "[trainbench] %s epoch %lld%s: %.0f samples/s, %.2f s, loss %.4f\n", name.c_str(),
                     static_cast<long long>(epoch), of.c_str(), static_cast<double>(train.count) / r.timed_seconds,
                     r.timed_seconds, r.mean_loss);
      }
      return r.timed_seconds;
    });
    m.epochs = static_cast<int>(epoch);
    m.nvml_util_pct = sampling.Stop();
    if (auto peaks = ctx->PeakMemory()) {
      m.peak_alloc_bytes = peaks->allocated_bytes;
      m.peak_reserved_bytes = peaks->reserved_bytes;
    }
    if (trainer.scaler()) m.amp_skipped_steps = trainer.scaler()->skipped_steps() - skipped_before;
    ThrowIfInterrupted();  // not into the evaluation pass after a stop
    m.test_acc = trainer.Evaluate(env.data.test);
    // ---- diagnostics: one more epoch, untimed, traced for the GPU's own kernel time (the
    // tracing cost stays out of every timed number; the model has been evaluated already).
    int64_t traced_steps = 0;
    if (const std::optional<KernelTrace> t =
            TraceKernels(env, *ctx, [&] { traced_steps = RunEpoch(trainer, *ctx, train, lo, epoch).steps; })) {
      m.kernel_busy = KernelBusy{t->wall_seconds, t->kernel_busy_seconds, traced_steps};
    }
  });
  if (!ok) return;
  if (rss_resettable) m.host_peak_rss_bytes = PeakRssBytes();
  for (const auto& [key, value] : EpochCounters(m)) state.counters[key] = value;
  AddNoiseCounters(samples, state);
  if (const std::string line = NoiseLine(name, env.run.criterion, samples); !line.empty()) {
    std::fprintf(stderr, "trainbench: %s\n", line.c_str());
  }
}

}  // namespace

void RegisterTrainEpoch(const std::vector<EpochConfig>& configs, const Harness& env) {
  RegisterEach(configs, env, TrainEpochBenchmark, benchmark::kSecond,
               RegisterIterations(env.run.criterion, env.run.epochs));
}

}  // namespace trainbench
