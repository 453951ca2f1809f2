// A world of more than one process (bench/world.h) as c10d sees it: the rendezvous through
// c10d's TCPStore and a ProcessGroupGloo over it, and BM_AllReduce on that group.
//
// c10d and Gloo stay out of this header (ProcessGroupGloo.hpp needs Debian's Gloo headers and
// USE_C10D_GLOO, which CMake gives bench/distributed.cc alone), so main.cc and the families
// compile as before.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/world.h"

namespace trainbench {

// c10d's store and process group, once Rendezvous has built them (bench/distributed.cc).
struct ProcessGroups;

struct DistEnv {
  World world;
  // How long the rendezvous, and then any one collective, may wait for the other ranks
  // (--dist_timeout_s): a rank that never arrives or dies ends the run instead of hanging it.
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
  std::shared_ptr<ProcessGroups> groups;  // null until Rendezvous
};

// Connects this rank to the world's TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 serves it,
// unless torchrun's agent already does) and builds the CPU process group, ProcessGroupGloo,
// on a Gloo TCP device. Blocks until every rank has arrived or the timeout has passed; the
// error is one line naming the address, this rank and c10d's reason.
// REQUIRES: dist.world.distributed().
absl::Status Rendezvous(DistEnv& dist);

// "gloo": the backend of the process group that Rendezvous builds.
const char* BackendName(const DistEnv& dist);

// BM_AllReduce/bytes:N/ranks:R for each size: float32 tensors of N bytes per rank summed over
// the CPU group, one all-reduce per iteration, timed by the steady clock around
// allreduce(...)->wait() (manual time: each iteration reports the slowest rank's time, which
// every rank then sees alike, so all ranks run the same number of iterations). Counters
// algbw_GB_per_s (bytes / time / 1e9) and busbw_GB_per_s (algbw x 2(R-1)/R), as nccl-tests
// defines them. Before timing, each rank contributes rank+1 and the sum is checked against
// R(R+1)/2; a wrong sum skips the benchmark with the values. A failed collective (a rank died,
// a timeout) ends the process with one line and status 1: the group is unusable after it.
// REQUIRES: dist outlives benchmark::RunSpecifiedBenchmarks, and Rendezvous has succeeded
// before the first benchmark runs.
void RegisterAllReduce(const std::vector<int64_t>& bytes, const DistEnv& dist);

}  // namespace trainbench
