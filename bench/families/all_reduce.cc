#include "bench/families/all_reduce.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <memory>

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
  const int ranks = dist.world.size;
  double seconds = 0;     // manual time summed over the iterations: the slowest rank's, of one all-reduce each
  int64_t timed_ops = 0;  // one per iteration: its time is one all-reduce's
  try {
    const int64_t elements = bytes / static_cast<int64_t>(sizeof(float));
    // Correctness first, untimed (it is also the warm-up: Gloo's first use of a size sets up
    // its buffers): rank r contributes r+1 everywhere, so every element must be R(R+1)/2,
    // exact in float32 for any world this runs on. min()/max() read the values back, which
    // waits for the device too.
    std::vector<at::Tensor> tensors{at::full({elements}, static_cast<float>(dist.world.rank + 1), where)};
    group.allreduce(tensors)->wait();
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
    // The slowest rank's value of s, the same on every rank (untimed, one all-reduce of a
    // double over Gloo); it is also a barrier: no rank goes on before every rank has come.
    const auto slowest_of = [&](double s) {
      slowest[0].fill_(s);
      dist.groups->cpu->allreduce(slowest, max)->wait();
      return slowest[0].item<double>();
    };
    // Google Benchmark picks the next run's iteration count from the time measured: ranks
    // that measured differently would run different counts and pair their collectives up
    // wrongly. Each iteration reports the slowest rank's time, so every rank decides alike.
    if (on_cuda) {
      // Not async: c10d queues NCCL on the current stream, the one the context's events are
      // recorded on, with no cross-stream wait between one all-reduce and the next. (The
      // Work it returns may be null: nothing waits on it; the end event does.)
      c10d::AllreduceOptions on_stream;
      on_stream.asyncOp = false;
      std::unique_ptr<IntervalTimer> span = device_ctx->NewTimer();
      const auto timed_span_s = [&](int64_t ops) {
        span->Start();
        for (int64_t i = 0; i < ops; ++i) (void)group.allreduce(tensors, on_stream);
        span->Stop();
        return span->ElapsedSeconds();  // waits for the end event: the stream is idle after it
      };
      (void)slowest_of(0);  // the barrier before the warm-up (the check's read-back left the stream idle)
      const int64_t ops = AllReduceOpsPerSpan(
          slowest_of(AllReduceSecondsPerOp(timed_span_s(kAllReduceWarmupOps), kAllReduceWarmupOps)));
      state.SetLabel(AllReduceTimingLabel(/*cuda_events=*/true, ops));
      for (auto _ : state) {
        // The previous slowest_of (or the warm-up's) was the barrier, with this stream idle.
        const double iteration_s = slowest_of(AllReduceSecondsPerOp(timed_span_s(ops), ops));
        state.SetIterationTime(iteration_s);
        seconds += iteration_s;
        ++timed_ops;
      }
    } else {
      state.SetLabel(AllReduceTimingLabel(/*cuda_events=*/false, 1));
      for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        group.allreduce(tensors)->wait();
        const double iteration_s =
            slowest_of(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        state.SetIterationTime(iteration_s);
        seconds += iteration_s;
        ++timed_ops;
      }
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
  const AllReduceBandwidth bw = AllReduceBandwidths(bytes, timed_ops, seconds, ranks);
  state.counters["algbw_GB_per_s"] = bw.algbw_GB_per_s;
  state.counters["busbw_GB_per_s"] = bw.busbw_GB_per_s;
  state.SetBytesProcessed(bytes * timed_ops);
}

}  // namespace

void RegisterAllReduce(const std::vector<int64_t>& bytes, WorldComm& dist, DeviceContext* device_ctx) {
  // The timing method of every BM_AllReduce row of this run (each row's label says it too).
  const bool on_cuda = dist.cuda && device_ctx != nullptr;
  benchmark::AddCustomContext("all_reduce_timing", on_cuda ? kAllReduceCudaEvents : kAllReduceHostPerCall);
  for (const int64_t b : bytes) {
    const std::string name = AllReduceBenchmarkName(b, dist.world.size);
    RegisterNamed(
        name, [name, b, &dist, device_ctx](benchmark::State& st) { AllReduceBenchmark(st, name, b, dist, device_ctx); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace trainbench
