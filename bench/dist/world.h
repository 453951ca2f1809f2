// The run's world: how many trainbench processes take part and which one this is, as the
// launcher says. torchrun (`torchrun --no-python ./build/trainbench ...`) sets RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; under Slurm (`srun ./build/trainbench`)
// SLURM_PROCID, SLURM_STEP_NUM_TASKS and SLURM_LOCALID stand in for the first three and the job script
// exports MASTER_ADDR and MASTER_PORT. Without either, the world is one process and the run is
// what it always was (same names, no process group).
//
// Torch-free: it parses a given environment, so the tests need no processes and no LibTorch.
// The rendezvous itself (TCPStore, ProcessGroupGloo) is bench/dist/distributed.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace trainbench {

enum class Launcher { kNone, kTorchrun, kSlurm };

struct World {
  int rank = 0;
  int size = 1;
  int local_rank = 0;       // the process's index on its node (its GPU, on cuda)
  std::string master_addr;  // where rank 0's TCPStore listens; empty with a world of 1
  uint16_t master_port = 0;
  Launcher launcher = Launcher::kNone;
  // torchrun's agent already serves a TCPStore on MASTER_PORT
  // (TORCHELASTIC_USE_AGENT_STORE=True): every rank, rank 0 included, is a client then, as
  // in Python's init_process_group (torch/distributed/rendezvous.py, _create_c10d_store; the
  // agent makes a new store for each restart, so no per-attempt key prefix). Otherwise rank 0
  // serves the store itself.
  bool agent_store = false;

  [[nodiscard]] bool distributed() const { return size > 1; }
};

// The variables ParseWorld reads, as (name, value) for those that are set.
using LauncherVariables = std::map<std::string, std::string>;

// The world that env describes. torchrun's variables win over Slurm's when both are present
// (torchrun inside an srun step sets its own). A bad value is an error whose message is one
// line naming the variable and the value: "RANK=abc: not an integer", "RANK=3: not below
// WORLD_SIZE=2", "MASTER_ADDR: not set (needed with WORLD_SIZE=2)".
absl::StatusOr<World> ParseWorld(const LauncherVariables& env);

// This process's values of the variables ParseWorld reads.
LauncherVariables LauncherEnvironment();

// How a rank's run differs from rank 0's, or nullopt when it does not. Lines are what every
// rank must agree on (main's run_lines): "benchmark <name>" lines in order (the ranks pair
// their collectives by it), every other line ("flag ...", "environment ...", "data ...") as a
// set, so the same flags in another order agree. Says "it has 'X' where rank 0 has 'Y'" for
// benchmarks, "it has 'flag --a=1', which rank 0 has not" or "it lacks 'flag --b', which rank
// 0 has" for the rest (the first such line, in sorted order).
[[nodiscard]] std::optional<std::string> RunDifference(const std::vector<std::string>& rank0,
                                                       const std::vector<std::string>& other);

// "none", "torchrun", "slurm": for the results' context.
const char* LauncherName(Launcher l);

}  // namespace trainbench
