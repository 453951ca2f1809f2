#include "bench/harness/world_setup.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/dist/world.h"
#include "bench/harness/run_context.h"

namespace trainbench {

WorldComm& OpenWorld(const CommandLine& cl) {
  WorldComm& dist = *new WorldComm;
  absl::StatusOr<World> world = ParseWorld(LauncherEnvironment());
  if (!world.ok()) Fail(std::string(world.status().message()));
  dist.world = *world;
  dist.timeout = cl.dist_timeout;
  if (dist.world.distributed() && cl.random_interleaving) {
    Fail("--benchmark_enable_random_interleaving: each rank would run its own order (WORLD_SIZE>1)");
  }
  return dist;
}

std::optional<std::string> WorldCudaProblem(const WorldComm& dist, bool cuda_asked, const CudaDevices& gpus) {
  if (!dist.world.distributed() || !cuda_asked) return std::nullopt;
  if (!gpus.nccl) {
    return "--device=cuda: with WORLD_SIZE>1 this build has no CUDA process group (nccl.h was not found at build time)";
  }
  if (!gpus.available()) return "--device=cuda: no CUDA GPU is available on this machine (WORLD_SIZE>1)";
  return std::nullopt;
}

void OpenGpu(Harness& env, WorldComm& dist, const CudaDevices& gpus, std::optional<std::string>& cuda_problem) {
  // A world on the CPU opens none (each rank would open GPU 0 and probe its link at once).
  if (!gpus.available() || (dist.world.distributed() && !dist.cuda)) return;
  // GPU LOCAL_RANK, unless the launcher left each rank one GPU of its own (Slurm's
  // --gpus-per-task=1, CUDA_VISIBLE_DEVICES per rank): then that one.
  const bool own_gpu = gpus.count() == 1;
  dist.gpu = dist.world.distributed() && !own_gpu ? dist.world.local_rank : 0;
  absl::StatusOr<std::unique_ptr<DeviceContext>> cuda = gpus.open(dist.gpu);
  if (!cuda.ok() && !dist.world.distributed()) Fail(std::string(cuda.status().message()));
  if (cuda.ok()) {
    env.cuda = *std::move(cuda);
  } else {
    cuda_problem = absl::StrCat("LOCAL_RANK=", dist.world.local_rank, ": ", cuda.status().message());
  }
}

void JoinWorld(WorldComm& dist, const std::vector<std::string>& run_lines,
               const std::optional<std::string>& cuda_problem) {
  const bool rank0 = dist.world.rank == 0;
  if (absl::Status s = Rendezvous(dist); !s.ok()) Fail(std::string(s.message()));
  // A rank with other flags would pair its collectives with the wrong ones: every rank stops
  // here instead, with the same line (printed by rank 0 and by the rank that differs).
  if (absl::Status s = CheckSameRun(dist, run_lines); !s.ok()) {
    if (rank0 || absl::StrContains(s.message(), absl::StrCat("rank ", dist.world.rank, " of"))) {
      std::fprintf(stderr, "trainbench: %s\n", std::string(s.message()).c_str());
    }
    std::fflush(nullptr);
    // _Exit: the process group's threads must not meet static destructors.
    std::_Exit(kBadInput);
  }
  // Then whether every rank can train on CUDA, over Gloo, and only then NCCL's init.
  if (const std::optional<std::string> who = FirstRankThatCannot(dist, "the rendezvous", cuda_problem)) {
    if (rank0 || cuda_problem) std::fprintf(stderr, "trainbench: %s\n", who->c_str());
    LeaveTogether(dist, "cuda_agreed");
    std::fflush(nullptr);
    std::_Exit(kBadInput);
  }
  if (absl::Status s = CompleteGroups(dist); !s.ok()) Fail(std::string(s.message()));
  AddWorldContext(dist);
}

}  // namespace trainbench
