// BM_DataLoader: the loader alone, with no model and no copy to the device: one benchmark
// iteration is one epoch of batches built (shuffle, per-sample crop/flip/normalize, into
// pinned or pageable host memory) and handed out in order, then dropped. Its samples/s is the
// ceiling the data pipeline puts on BM_TrainEpoch with the same batch, workers and pin: an
// epoch that comes close to it is limited by the loader, not the device, and an epoch can
// reach its BM_TrainStep ceiling only when this is well above that (the lab's Part 4
// question, answered without a model in the way).
//
// Timed section: as in BM_TrainEpoch, from before the loader is created (its threads start)
// to after the last batch is handed out, on a steady clock.
#include <benchmark/benchmark.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "bench/harness/harness.h"
#include "fixtures/loader.h"

namespace trainbench {
namespace {

// Seconds for one epoch through a fresh loader.
double LoadEpoch(const ImageSet& train, const LoaderOptions& lo, int64_t epoch) {
  const auto start = std::chrono::steady_clock::now();
  EpochLoader loader(train, lo, epoch);
  // Each batch handed out is a step boundary: SIGINT/SIGTERM stop the epoch there.
  while (loader.Next()) ThrowIfInterrupted();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void DataLoaderBenchmark(benchmark::State& state, const LoaderConfig& c, const Harness& env) {
  // Pinned host memory comes from the CUDA host allocator: cuda only.
  DeviceContext* ctx = ContextOrSkip(state, env, c.pin ? DeviceKind::kCuda : DeviceKind::kCpu, Precision::kFp32);
  if (ctx == nullptr) return;
  if (!FitsInMemoryOrSkip(state, env, *ctx, c)) return;  // the loader's batches in flight
  const ImageSet& train = env.data.train;
  LoaderOptions lo{c.batch, c.workers, c.pin, env.run.seed};
  if (c.pin) lo.pinned_memory = ctx->PinnedAllocator();
  double seconds = 0;
  int64_t epochs = 0;
  const bool ok = RunOrSkip(state, BenchmarkName(c), absl::StrCat("batch:", c.batch), *ctx, [&] {
    // Untimed: the first pinned allocations (cudaHostAlloc) fill the host allocator's cache,
    // as BM_TrainEpoch's warm-up does.
    LoadEpoch(train, lo, /*epoch=*/-1);
    for (auto _ : state) {
      const double s = LoadEpoch(train, lo, epochs);
      state.SetIterationTime(s);
      seconds += s;
      ++epochs;
    }
  });
  if (!ok || seconds <= 0) return;
  state.counters["samples_per_second"] = static_cast<double>(train.count) * epochs / seconds;
}

}  // namespace

void RegisterDataLoader(const std::vector<LoaderConfig>& configs, const Harness& env) {
  std::vector<LoaderConfig> runnable;
  for (const LoaderConfig& c : configs) {
    if (!c.pin || env.cuda) runnable.push_back(c);  // pin:1 needs --device=cuda: never left out from the sweeps
  }
  RegisterEach(runnable, env, DataLoaderBenchmark, benchmark::kMillisecond);
}

}  // namespace trainbench
