// BM_AllReduce: the collective alone, as nccl-tests' all_reduce_perf measures it, on the
// world's process group (bench/dist/distributed.h). Torch-free: the names and sizes are
// unit-tested without LibTorch.
#pragma once

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

// BM_AllReduce/bytes:N/ranks:R for each size: float32 tensors of N bytes per rank summed over
// the CPU group, or with dist.cuda over NCCL on each rank's GPU (device_ctx, its context),
// one all-reduce per iteration, timed by the steady clock around allreduce(...)->wait() (on
// CUDA, and a device synchronize: wait() only orders the streams) (manual time: each
// iteration reports the slowest rank's time, which
// every rank then sees alike, so all ranks run the same number of iterations). Counters
// algbw_GB_per_s (bytes / time / 1e9) and busbw_GB_per_s (algbw x 2(R-1)/R), as nccl-tests
// defines them. Before timing, each rank contributes rank+1 and the sum is checked against
// R(R+1)/2; a wrong sum skips the benchmark with the values. A failed collective (a rank died,
// a timeout) ends the process with one line and status 1: the group is unusable after it.
// In a world of one (the CUDA smoke check) a failure skips the benchmark instead.
// REQUIRES: dist and device_ctx outlive benchmark::RunSpecifiedBenchmarks; in a world of
// several ranks Rendezvous has succeeded before the first benchmark runs; device_ctx is the
// CUDA context with dist.cuda.
void RegisterAllReduce(const std::vector<int64_t>& bytes, WorldComm& dist, DeviceContext* device_ctx);

}  // namespace trainbench
