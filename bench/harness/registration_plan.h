// What a run registers: the lab suite's points or the axis flags' (bench/suite/lab_suite.h),
// each family in its order (every graph:1 row after every eager one), and, in a world of
// several ranks, the all-reduce and data-parallel epochs instead of the single-process
// families.
#pragma once

#include <string>
#include <vector>

#include "bench/dist/distributed.h"
#include "bench/harness/harness.h"
#include "bench/suite/axis_table.h"
#include "bench/suite/configs.h"

namespace trainbench {

struct RunPlan {
  std::vector<EpochConfig> epochs;  // graph:0 and graph:1, as the suite or the flags name them
  std::vector<StepConfig> steps;
  bool device_given = false;  // --device was given
  bool cuda_asked = false;    // --device names cuda
};

// The configurations to run; exits 2 naming a bad axis value, or --graph=1 where it cannot run.
// configs_cuda: configurations are built as on a machine with a GPU.
RunPlan MakePlan(const AxisFlags& axes, bool configs_cuda, AdamKind adam, bool distributed);

// --device was given and names cuda.
[[nodiscard]] bool CudaAsked(const AxisFlags& axes);
[[nodiscard]] bool AnyOnCuda(const std::vector<EpochConfig>& configs);

// Registers the plan's benchmarks against env and dist; returns the names registered, in
// order. nccl: the CUDA process group is built in; quiet_about_cpu_only: a rank that will
// stop at the rendezvous anyway says nothing about the rows it leaves out.
std::vector<std::string> RegisterPlan(const RunPlan& plan, const Harness& env, WorldComm& dist, bool nccl,
                                      bool quiet_about_cpu_only);

}  // namespace trainbench
