// This rank's part in a world of several (torchrun, Slurm: bench/dist/world.h): the world from
// the launcher's variables, this rank's GPU, and the meeting of the ranks before anything runs
// (rendezvous, the same run on every rank, CUDA on every rank, then NCCL). A failure is one
// line and exit 2 on every rank.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/dist/distributed.h"
#include "bench/harness/flags.h"
#include "bench/harness/harness.h"
#include "bench/harness/trainbench_main.h"

namespace trainbench {

// The world, before anything slow: a bad launcher variable is one line and exit 2 at once.
// Leaked with the Harness: its process group's threads must not be joined by static destructors.
WorldComm& OpenWorld(const CommandLine& cl);

// Why this rank cannot train on CUDA with its world, or nullopt: said at the rendezvous, where
// every rank learns it and stops, not before it, where the other ranks would wait for this one
// (and, had they started NCCL, in its init, which has no timeout).
std::optional<std::string> WorldCudaProblem(const WorldComm& dist, bool cuda_asked, const CudaDevices& gpus);

// Opens the GPU this rank trains on into env.cuda where it trains on one: GPU 0 for a single
// process, LOCAL_RANK in a world on CUDA (or the one GPU a launcher left each rank). A failure
// exits 2 for a single process; in a world it becomes cuda_problem.
void OpenGpu(Harness& env, WorldComm& dist, const CudaDevices& gpus, std::optional<std::string>& cuda_problem);

// REQUIRES: a world of several ranks, benchmarks registered and the filter checked. Meets the
// other ranks, checks they run the same (run_lines) and can all train on CUDA where asked,
// then starts NCCL and adds the world to the context.
void JoinWorld(WorldComm& dist, const std::vector<std::string>& run_lines,
               const std::optional<std::string>& cuda_problem);

}  // namespace trainbench
