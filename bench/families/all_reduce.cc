#include "bench/families/all_reduce.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>

#include <ATen/ops/full.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

#include "absl/strings/str_cat.h"
#include "bench/dist/distributed.h"
#include "bench/dist/process_groups.h"
#include "bench/dist/store_keys.h"
#include "bench/harness/harness.h"
#include "bench/harness/interrupt.h"

namespace trainbench {
namespace {

void AllReduceBenchmark(benchmark::State& state, const std::string& name, int64_t bytes, WorldComm& dist,
                        DeviceContext* device_ctx) {
  const auto skip = [&](const std::string& why) { SkipOnRank0(state, name, dist, why); };
  const bool on_cuda = dist.cuda && device_ctx != nullptr;
  if (!StartOrSkip(state, name, dist, on_cuda ? device_ctx : nullptr)) return;
  c10d::Backend& group = on_cuda ? *dist.groups->cuda : *dist.groups->cpu;
  const at::TensorOptions where =
      at::TensorOptions().dtype(at::kFloat).device(on_cuda ? device_ctx->device() : at::kCPU);
  // wait() on a CUDA work only makes the current stream wait for NCCL's: the host clock
  // needs the device to be done.
  const auto done = [&] {
    if (on_cuda) device_ctx->Synchronize();
  };
  const int ranks = dist.world.size;
  double seconds = 0;  // manual time summed over the iterations
  int64_t all_reduces = 0;
  try {
    const int64_t elements = bytes / static_cast<int64_t>(sizeof(float));
    // Correctness first, untimed (it is also the warm-up: Gloo's first use of a size sets up
    // its buffers): rank r contributes r+1 everywhere, so every element must be R(R+1)/2,
    // exact in float32 for any world this runs on.
    std::vector<at::Tensor> tensors{at::full({elements}, static_cast<float>(dist.world.rank + 1), where)};
    group.allreduce(tensors)->wait();
    done();
    const float expected = static_cast<float>(ranks) * static_cast<float>(ranks + 1) / 2.0f;
    const float lo = tensors[0].min().item<float>();
    const float hi = tensors[0].max().item<float>();
    if (lo != expected || hi != expected) {
      skip(absl::StrCat("all-reduce sum wrong at bytes:", bytes, ": elements from ", lo, " to ", hi, ", expected ",
                        expected));
      return;
    }
    // Zeros sum to zeros: the timed all-reduces add finite numbers however many run.
    tensors[0].zero_();
    std::vector<at::Tensor> slowest{at::zeros({1}, at::kDouble)};
    c10d::AllreduceOptions max;
    max.reduceOp = c10d::ReduceOp::MAX;
    for (auto _ : state) {
      const auto start = std::chrono::steady_clock::now();
      group.allreduce(tensors)->wait();
      done();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      // Google Benchmark picks the next run's iteration count from the time measured: ranks
      // that measured differently would run different counts and pair their collectives up
      // wrongly. Each iteration reports the slowest rank's time (untimed, one more all-reduce
      // of a double), identical on every rank, so every rank decides alike.
      slowest[0].fill_(s);
      dist.groups->cpu->allreduce(slowest, max)->wait();
      const double iteration_s = slowest[0].item<double>();
      state.SetIterationTime(iteration_s);
      seconds += iteration_s;
      ++all_reduces;
    }
  } catch (const std::exception& e) {
    // A world of one has nobody to wait for: the failure is this benchmark's alone.
    if (!dist.world.distributed()) {
      skip(Reason(e));
      return;
    }
    EndWorld(dist, name, e);
  }
  if (seconds <= 0) return;
  const double algbw_GB_per_s = static_cast<double>(bytes) * all_reduces / seconds / 1e9;
  state.counters["algbw_GB_per_s"] = algbw_GB_per_s;
  state.counters["busbw_GB_per_s"] = algbw_GB_per_s * AllReduceBusFactor(ranks);
  state.SetBytesProcessed(bytes * all_reduces);
}

}  // namespace

void RegisterAllReduce(const std::vector<int64_t>& bytes, WorldComm& dist, DeviceContext* device_ctx) {
  for (const int64_t b : bytes) {
    const std::string name = AllReduceBenchmarkName(b, dist.world.size);
    RegisterNamed(
        name, [name, b, &dist, device_ctx](benchmark::State& st) { AllReduceBenchmark(st, name, b, dist, device_ctx); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace trainbench
