#include "bench/families/data_parallel.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/families/counters.h"
#include "bench/families/epoch_loop.h"
#include "bench/families/sampling.h"
#include "bench/harness/interrupt.h"
#include "fixtures/host_memory.h"
#include "fixtures/loader.h"
#include "fixtures/warmup.h"
#include "models/models.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

// Warm-up in a world of ranks: every rank must take the same number of steps (each one
// all-reduces), so --warmup_seconds cannot be each rank's own clock. The steps run first; if
// the slowest rank took less than the seconds asked, every rank runs the same number of
// steps more, from the slowest rank's time per step.
void WarmUpTogether(const WorldComm& dist, const ImageSet& train, const LoaderOptions& lo, int min_steps,
                    double min_seconds, const std::function<void(const HostBatch&)>& step) {
  const auto start = std::chrono::steady_clock::now();
  // One step at least when seconds are asked: the time per step comes from it.
  const std::vector<int64_t> sizes =
      WarmUpOnLoader(train, lo, {min_seconds > 0 ? std::max(min_steps, 1) : min_steps, 0.0}, step);
  if (min_seconds <= 0) return;
  const double slowest_s =
      MaxOverRanks(dist, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (slowest_s >= min_seconds || sizes.empty()) return;
  const double per_step_s = slowest_s / static_cast<double>(sizes.size());
  const int more = static_cast<int>(std::ceil((min_seconds - slowest_s) / std::max(per_step_s, 1e-6)));
  WarmUpOnLoader(train, lo, {more, 0.0}, step);
}

void DataParallelEpochBenchmark(benchmark::State& state, const EpochConfig& c, const Harness& env, WorldComm& dist) {
  const World& w = dist.world;
  const bool rank0 = w.rank == 0;
  const std::string name = DataParallelBenchmarkName(c, w.size);
  const auto skip = [&](const std::string& why) { SkipOnRank0(state, name, dist, why); };
  const DeviceContext* device = env.context(c.device);
  if (!StartOrSkip(state, name, dist, device != nullptr && device->kind() == DeviceKind::kCuda ? device : nullptr))
    return;
  const ImageSet& train = env.data.train;
  LoaderOptions lo{c.batch, c.workers, c.pin, env.run.seed, /*shard=*/w.rank, /*shards=*/w.size};

  // ---- 1. Can every rank run it? Each finds out alone, with no collective, then they agree.
  std::optional<Trainer> trainer;
  std::optional<std::string> cannot = WhyNoContext(env, c.device, c.precision);
  DeviceContext* ctx = cannot ? nullptr : env.context(c.device);
  if (ctx != nullptr && c.pin) lo.pinned_memory = ctx->PinnedAllocator();
  if (!cannot) cannot = WhyNotInMemory(env, *ctx, c, dist.ranks_per_node);
  const bool rss_resettable = ResetPeakRss();
  SampleRecord samples;
  if (!cannot) {
    const absl::Status s = RunGuarded(*ctx, BatchAndModel(c.batch, c.model), [&] {
      ctx->SetTf32(c.precision == Precision::kTf32);
      trainer.emplace(c.model, c.precision, *ctx, env.run.seed, env.run.adam, env.run.channels_last);
      // The largest batch this rank will train on, forward and backward: where memory peaks.
      LoaderOptions on_this_thread = lo;
      on_this_thread.workers = 0;
      const EpochLoader probe(train, on_this_thread, -1);
      DeviceBatch b = ctx->Stage(probe.Build(0), lo.pinned);
      ctx->Use(b);
      trainer->ForwardBackward(b.images, b.labels);
      ctx->Synchronize();
    });
    if (!s.ok()) {
      trainer.reset();
      cannot = std::string(s.message());
    }
  }
  if (const std::optional<std::string> who = FirstRankThatCannot(dist, name, cannot)) {
    skip(*who);
    return;
  }

  // ---- 2. Train, each synced epoch followed by its no-sync twin; 3. evaluate.
  EpochMeasurements m;
  m.samples_per_epoch = train.count;  // the world's: each rank trains on its shard
  m.forward_flops_per_sample = ForwardFlopsPerSample(c.model);
  m.peak_flops = ctx->PeakFlops(c.precision);
  m.parameters = trainer->parameter_count();
  DataParallelMeasurements dp;
  const auto train_together = [&] {
    GradientSync sync(dist, *trainer->model());
    trainer->set_step_hooks(&sync);
    WarmUpTogether(dist, train, lo, env.run.warmup_steps, env.run.WarmupSeconds(c.device), [&](const HostBatch& h) {
      DeviceBatch b = ctx->Stage(h, lo.pinned);
      ctx->Use(b);
      trainer->Step(b.images, b.labels);
    });
    ctx->Synchronize();
    if (const int signal_number = AgreedStopSignal(dist)) throw Interrupted{signal_number};
    const int64_t skipped_before = trainer->scaler() ? trainer->scaler()->skipped_steps() : 0;
    ctx->ResetPeakMemory();
    UtilizationSampling sampling(*ctx);
    int64_t epoch = 0;
    // Every rank sees the same samples (the slowest rank's epoch time, over the world), so the
    // stopping criterion stops every rank after the same epoch with no extra collective.
    samples = TakeSamples(state, env.run.criterion, [&] {
      const EpochResult r = RunEpoch(*trainer, *ctx, train, lo, epoch, /*stop_between_steps=*/false);
      // An epoch of the world ends when its slowest rank's does.
      const double slowest_s = MaxOverRanks(dist, r.timed_seconds);
      m.timed_seconds += slowest_s;
      m.wall_seconds += MaxOverRanks(dist, r.wall_seconds);
      m.data_wait_seconds += r.wait_seconds;  // rank 0's, as its memory peaks
      // Every rank has as many batches: the mean of the ranks' means is the world's.
      m.train_loss = SumOverRanks(dist, r.mean_loss) / static_cast<double>(w.size);
      // Its no-sync twin, untimed for Google Benchmark: the same ranks, shards and batches
      // without the all-reduce, what sync costs and each rank's own speed (in the synced
      // epochs every rank waits for the slowest at each step, so their times there say nothing
      // of stragglers). Right after its synced epoch, so that a load that comes and goes
      // weighs on both; from the synced weights, put back after it, so that the replicas stay
      // alike and the next synced epoch trains on as if it had not run.
      {
        TrainingSnapshot synced(*trainer);
        sync.set_enabled(false);
        const EpochResult nosync = RunEpoch(*trainer, *ctx, train, lo, epoch, /*stop_between_steps=*/false);
        sync.set_enabled(true);
        synced.Restore();
        dp.synced_seconds.push_back(slowest_s);
        dp.nosync_seconds.push_back(MaxOverRanks(dist, nosync.timed_seconds));
        dp.rank_min_seconds.push_back(MinOverRanks(dist, nosync.timed_seconds));
      }
      ++epoch;
      if (!env.run.quiet && rank0) {
        const std::string of =
            env.run.criterion.on() ? "" : absl::StrCat("/", static_cast<long long>(state.max_iterations));
        std::fprintf(stderr, "[trainbench] %s epoch %lld%s: %.0f samples/s, %.2f s, loss %.4f (rank 0)\n", name.c_str(),
                     static_cast<long long>(epoch), of.c_str(), static_cast<double>(train.count) / slowest_s, slowest_s,
                     r.mean_loss);
      }
      if (const int signal_number = AgreedStopSignal(dist)) throw Interrupted{signal_number};
      return slowest_s;
    });
    m.epochs = static_cast<int>(epoch);
    m.nvml_util_pct = sampling.Stop();
    if (auto peaks = ctx->PeakMemory()) {
      m.peak_alloc_bytes = peaks->allocated_bytes;
      m.peak_reserved_bytes = peaks->reserved_bytes;
    }
    if (trainer->scaler()) m.amp_skipped_steps = trainer->scaler()->skipped_steps() - skipped_before;
    if (const int signal_number = AgreedStopSignal(dist)) throw Interrupted{signal_number};
    // Every replica is rank 0's (its buffers too, after this): each rank counts its slice of
    // the test set, and the counts add up to what one replica on the whole set would get.
    sync.SyncBuffers();
    const ImageSet& test = env.data.test;
    const int64_t begin = test.count * w.rank / w.size;
    const int64_t end = test.count * (w.rank + 1) / w.size;
    const double correct = SumOverRanks(dist, static_cast<double>(trainer->CountCorrect(test, begin, end)));
    m.test_acc = test.count > 0 ? correct / static_cast<double>(test.count) : 0.0;
    dp.buckets = sync.buckets();
    trainer->set_step_hooks(nullptr);
  };
  if (!w.distributed()) {
    // A world of one (the CUDA smoke check): failures are this benchmark's alone, handled as
    // every single-process benchmark's are (skip with the reason, the device recovered).
    if (!RunOrSkip(state, name, BatchAndModel(c.batch, c.model), *ctx, train_together)) return;
  } else {
    try {
      train_together();
    } catch (const Interrupted& i) {
      skip(InterruptedMessage(i.signal_number));
      return;
    } catch (const std::exception& e) {
      EndWorld(dist, name, e);
    }
  }
  if (rss_resettable) m.host_peak_rss_bytes = PeakRssBytes();
  m.data_parallel = dp;
  for (const auto& [key, value] : EpochCounters(m)) state.counters[key] = value;
  AddNoiseCounters(samples, state);
  if (const std::string line = NoiseLine(name, env.run.criterion, samples); !line.empty() && rank0) {
    std::fprintf(stderr, "trainbench: %s\n", line.c_str());
  }
}

}  // namespace

void RegisterDataParallelEpoch(const std::vector<EpochConfig>& configs, const Harness& env, WorldComm& dist) {
  for (const EpochConfig& c : configs) {
    RegisterNamed(DataParallelBenchmarkName(c, dist.world.size),
                  [c, &env, &dist](benchmark::State& st) { DataParallelEpochBenchmark(st, c, env, dist); })
        ->UseManualTime()
        ->Iterations(RegisterIterations(env.run.criterion, env.run.epochs))
        ->Unit(benchmark::kSecond);
  }
}

}  // namespace trainbench
