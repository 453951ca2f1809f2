// A world of more than one process (bench/dist/world.h) as c10d sees it: the rendezvous through
// c10d's TCPStore and a ProcessGroupGloo over it (bench/dist/rendezvous.cc), the ranks'
// agreements (bench/dist/agreement.cc), how a world ends (bench/dist/world_end.cc) and
// data-parallel gradient sync
// (bench/dist/gradient_sync.h). BM_AllReduce is bench/families/all_reduce.h.
//
// c10d and Gloo stay out of this header (ProcessGroupGloo.hpp needs Debian's Gloo headers and
// USE_C10D_GLOO, which CMake gives bench/dist/ and the all-reduce family alone), so main.cc and the families
// compile as before.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/status/status.h"
#include "bench/dist/world.h"
#include "fixtures/device.h"

namespace trainbench {

// c10d's store and process group, once Rendezvous has built them (bench/dist/rendezvous.cc).
struct ProcessGroups;

struct WorldComm {
  World world;
  // How long the rendezvous, and then any one collective, may wait for the other ranks
  // (--dist_timeout_s): a rank that never arrives or dies ends the run instead of hanging it.
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
  // The world trains on CUDA, one GPU per rank (LOCAL_RANK): Rendezvous builds the CUDA
  // process group (ProcessGroupNCCL) too, and BM_AllReduce runs on it.
  bool cuda = false;
  // The CUDA device this rank uses: LOCAL_RANK, or 0 where the launcher gave each rank one
  // GPU of its own (Slurm's --gpus-per-task=1). main sets it with the CUDA context.
  int gpu = 0;
  std::shared_ptr<ProcessGroups> groups;  // null until Rendezvous
  // A world of one's rendezvous, made by the first benchmark that needs it (EnsureRendezvous).
  std::optional<absl::Status> rendezvous;
  // Filled in by Rendezvous from every rank's host name: distinct hosts, and the most ranks
  // on one of them.
  int nodes = 1;
  int ranks_per_node = 1;
};

// Connects this rank to the world's TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 serves it,
// unless torchrun's agent already does) and builds the CPU process group, ProcessGroupGloo,
// on a Gloo TCP device: enough for the ranks to agree (CheckSameRun, FirstRankThatCannot)
// before CompleteGroups starts NCCL. Blocks until every rank has arrived or the timeout has
// passed; the error is one line naming the address, this rank and c10d's reason. A world of
// one uses an in-process store (c10d's HashStore) instead: its groups are the world-of-one
// smoke check on CUDA.
absl::Status Rendezvous(WorldComm& dist);

// After the ranks agreed that each can train on CUDA: with dist.cuda the CUDA process group,
// ProcessGroupNCCL on GPU LOCAL_RANK (whose init blocks with no timeout until every rank
// joins), then the ProcessGroup over both that GradientSync uses. REQUIRES: Rendezvous.
absl::Status CompleteGroups(WorldComm& dist);

// For a world of one: Rendezvous on the first call, its outcome kept for the later ones, so
// that NCCL's start-up happens in the smoke rows (registered last) and touches no earlier
// benchmark's memory. In a world of several ranks: whether Rendezvous has succeeded.
absl::Status EnsureRendezvous(WorldComm& dist);

// Shuts the world's process groups down (c10d's normal exit, as destroy_process_group), so
// that no backend thread (NCCL's watchdog) is alive when the process exits; a failure is a
// line on stderr. Nothing to do before Rendezvous.
void ShutdownWorld(const WorldComm& dist);

// Whether this build has the CUDA process group (NCCL's header was found at build time).
[[nodiscard]] bool NcclBuiltIn();

// "nccl" with dist.cuda, else "gloo": the process group BM_AllReduce runs on.
const char* BackendName(const WorldComm& dist);
// "2.28.9" (NCCL, the version LibTorch was built with) or "0.5.0" (Gloo, as its headers say: Debian's
// libgloo-dev; the wheel's libtorch_cpu carries its own copy, of a version it does not report).
std::string BackendVersion(const WorldComm& dist);

// Whether every rank is about to run the same thing: lines (the benchmark names in order and
// the flags) are compared with rank 0's through the store. The error names the first rank
// that differs and its first differing line, the same on every rank. REQUIRES: Rendezvous.
absl::Status CheckSameRun(const WorldComm& dist, const std::vector<std::string>& lines);

// Before every rank exits on an agreed error (CheckSameRun, the CUDA agreement): each says it
// is done reading the store, and rank 0, which may serve it, waits up to 5 s for the others.
void LeaveTogether(const WorldComm& dist, const std::string& step);

// What every benchmark of a world does first, each rank alike: a world of one skips where the
// CUDA context it would use (cuda_ctx; null on the CPU) was lost by an earlier benchmark (no
// NCCL on it), then the rendezvous (a world of one's is made here, EnsureRendezvous), then
// the ranks agree on a stop. Returns true to go on; false after skipping the benchmark, with
// the reason on stderr from rank 0, or as "not run: interrupted by SIGINT" after a stop.
bool StartOrSkip(benchmark::State& state, const std::string& name, WorldComm& dist, const DeviceContext* cuda_ctx);

// Skips the benchmark with why, printed on stderr by rank 0 alone.
void SkipOnRank0(benchmark::State& state, const std::string& name, const WorldComm& dist, const std::string& why);

// ---- agreeing across ranks: small CPU collectives, untimed. Each must be called by every
// rank in the same order (as the benchmarks are); a failed one ends the process (EndWorld).

double MaxOverRanks(const WorldComm& dist, double value);
double MinOverRanks(const WorldComm& dist, double value);
double SumOverRanks(const WorldComm& dist, double value);

// The stop signal any rank has received (bench/harness/interrupt.h), 0 if none. Once one has, every
// rank's stop is requested with it (RequestStop), so that all of them stop at the same
// benchmark boundary, skip the same benchmarks, and exit with the same status.
int AgreedStopSignal(const WorldComm& dist);

// Every rank says whether it can go on (mine is nullopt) or why it cannot; returns
// "rank R: <why>" for the lowest rank that cannot, or nullopt when all can. what names the
// step, for the error should the collective fail.
std::optional<std::string> FirstRankThatCannot(const WorldComm& dist, const std::string& what,
                                               const std::optional<std::string>& mine);

// Ends this rank after a failure inside a benchmark that the other ranks cannot finish
// without it: one line on stderr, "trainbench: rank R of N: <benchmark>: ...", then exit 1.
// A failure of this rank's own (out of memory mid-epoch) is said at once, and recorded in the
// store for the others. A failed collective (a rank died, a timeout) first waits up to 5 s for
// the other ranks' words and names the rank whose own failure came first or, failing that,
// the ranks that said nothing (killed, crashed or hung).
[[noreturn]] void EndWorld(const WorldComm& dist, const std::string& benchmark, const std::exception& e);

// A rank blocked in a collective with a rank that has ended (a broadcast from rank 0 while
// rank 1 was killed) would not fail until that one exited, and then blame it. The failure
// watch, a thread on its own store connection, looks every kFailureWatchPeriod at how many
// ranks have ended (EndWorld counts itself in the store); when one has and this rank has not
// begun to end, it ends this rank as EndWorld would, naming the running benchmark
// (NoteBenchmark: StartOrSkip notes each). Rendezvous starts it for a world of several ranks.
inline constexpr std::chrono::milliseconds kFailureWatchPeriod{250};
void StartFailureWatch(const WorldComm& dist);
void NoteBenchmark(const std::string& name);

}  // namespace trainbench
