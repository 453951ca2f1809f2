// BM_AllReduce: the collective alone, as nccl-tests' all_reduce_perf measures it, on the
// world's process group (bench/dist/distributed.h). Torch-free: the names and sizes are
// unit-tested without LibTorch.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace trainbench {

struct WorldComm;
class DeviceContext;

// "BM_AllReduce/bytes:4096/ranks:2": an interface, as the other families' names are.
inline std::string AllReduceBenchmarkName(int64_t bytes, int ranks) {
  return absl::StrCat("BM_AllReduce/bytes:", bytes, "/ranks:", ranks);
}

// The sizes BM_AllReduce runs, in bytes of float32 per rank: 4 KiB to 256 MiB in steps of 4x.
inline std::vector<int64_t> DefaultAllReduceBytes() {
  std::vector<int64_t> sizes;
  for (int64_t bytes = int64_t{4} << 10; bytes <= int64_t{256} << 20; bytes *= 4) sizes.push_back(bytes);
  return sizes;
}

// nccl-tests' bus bandwidth factor for all-reduce, 2(R-1)/R: busbw = algbw x this is the
// traffic each rank's link carries in a ring, so it compares across world sizes (and with
// nccl-tests' busbw column). 0 for a world of one.
inline double AllReduceBusFactor(int ranks) { return ranks <= 1 ? 0.0 : 2.0 * (ranks - 1) / ranks; }

// How a BM_AllReduce row was timed, in its label ("timing=cuda_events ops_per_span=200") and
// the context's all_reduce_timing. Gloo (the CPU): the host's steady clock around each call,
// one all-reduce per iteration (back-to-back calls measured no faster there). NCCL (CUDA):
// as nccl-tests, the ranks meet at a barrier with the stream idle, then ops_per_span
// all-reduces are queued back to back on the stream they run on, between two CUDA events;
// the time of one is the span over ops_per_span. One launch, the host's enqueue and the
// ranks' skew are then spread over the span instead of weighing on every call.
inline constexpr char kAllReduceHostPerCall[] = "host_per_call";
inline constexpr char kAllReduceCudaEvents[] = "cuda_events";

// On CUDA: a timed span lasts this long at least (seconds), so that what it holds once (the
// first launch, about 10 us; the ranks' skew after the barrier; the events' 0.5 us
// resolution) is 0.1% of it or less...
inline constexpr double kAllReduceSpanTarget_s = 0.01;
// ...with this many all-reduces at most: 1000 of 4 KiB queue in well under the span, and
// more would only lengthen an iteration at the smallest sizes.
inline constexpr int64_t kAllReduceMaxOpsPerSpan = 1000;
// Untimed back-to-back all-reduces first, also timed by events: the estimate of one op that
// sizes the span (and NCCL's first use of a size, its buffers and channels, out of the way).
inline constexpr int64_t kAllReduceWarmupOps = 5;

// All-reduces per timed span for an op estimated at op_s seconds (the warm-up's, slowest
// rank): ceil(kAllReduceSpanTarget_s / op_s) within [1, kAllReduceMaxOpsPerSpan]; the most for
// an estimate that is 0, negative or NaN (an event pair that measured nothing), 1 for +inf
// (an op slower than anything: one a span).
inline int64_t AllReduceOpsPerSpan(double op_s) {
  if (op_s == std::numeric_limits<double>::infinity()) return 1;
  if (!(op_s > 0) || !std::isfinite(op_s)) return kAllReduceMaxOpsPerSpan;
  const double ops = std::ceil(kAllReduceSpanTarget_s / op_s);
  if (ops >= static_cast<double>(kAllReduceMaxOpsPerSpan)) return kAllReduceMaxOpsPerSpan;
  return std::max<int64_t>(1, static_cast<int64_t>(ops));
}

// Seconds of one all-reduce in a span of span_s seconds that held ops of them back to back.
inline double AllReduceSecondsPerOp(double span_s, int64_t ops) { return ops > 0 ? span_s / ops : 0.0; }

// nccl-tests' bandwidths for ops all-reduces of bytes each per rank in seconds, in GB/s (1e9
// bytes): algbw = bytes x ops / seconds, busbw = algbw x 2(R-1)/R. Both 0 without time.
struct AllReduceBandwidth {
  double algbw_GB_per_s = 0;
  double busbw_GB_per_s = 0;
};
inline AllReduceBandwidth AllReduceBandwidths(int64_t bytes, int64_t ops, double seconds, int ranks) {
  if (!(seconds > 0) || ops <= 0) return {};
  const double algbw = static_cast<double>(bytes) * static_cast<double>(ops) / seconds / 1e9;
  return {algbw, algbw * AllReduceBusFactor(ranks)};
}

// The row's label: "timing=host_per_call", or "timing=cuda_events ops_per_span=N".
inline std::string AllReduceTimingLabel(bool cuda_events, int64_t ops_per_span) {
  if (!cuda_events) return absl::StrCat("timing=", kAllReduceHostPerCall);
  return absl::StrCat("timing=", kAllReduceCudaEvents, " ops_per_span=", ops_per_span);
}

// BM_AllReduce/bytes:N/ranks:R for each size: float32 tensors of N bytes per rank summed over
// the CPU group, or with dist.cuda over NCCL on each rank's GPU (device_ctx, its context),
// timed as the label says (above), in manual time: each iteration reports the slowest rank's
// time of one all-reduce, which every rank then sees alike, so all ranks run the same number
// of iterations. Counters algbw_GB_per_s (bytes / time / 1e9) and busbw_GB_per_s (algbw x
// 2(R-1)/R), as nccl-tests defines them (it averages the ranks' times, this takes the
// slowest). Before timing, each rank contributes rank+1 and the sum is checked against
// R(R+1)/2; a wrong sum skips the benchmark with the values. A failed collective (a rank died,
// a timeout) ends the process with one line and status 1: the group is unusable after it.
// In a world of one (the CUDA smoke check) a failure skips the benchmark instead. Adds the
// context's all_reduce_timing (host_per_call or cuda_events).
// REQUIRES: dist and device_ctx outlive benchmark::RunSpecifiedBenchmarks; in a world of
// several ranks Rendezvous has succeeded before the first benchmark runs; device_ctx is the
// CUDA context with dist.cuda.
void RegisterAllReduce(const std::vector<int64_t>& bytes, WorldComm& dist, DeviceContext* device_ctx);

}  // namespace trainbench
