#include "bench/harness/registration_plan.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/match.h"
#include "bench/dist/world.h"
#include "bench/families/all_reduce.h"
#include "bench/families/data_parallel.h"
#include "bench/harness/flags.h"
#include "bench/suite/lab_suite.h"

namespace trainbench {

bool CudaAsked(const AxisFlags& axes) {
  const auto it = axes.find("device");
  return it != axes.end() && std::any_of(it->second.begin(), it->second.end(),
                                         [](const std::string& d) { return absl::EqualsIgnoreCase(d, "cuda"); });
}

RunPlan MakePlan(const AxisFlags& axes, bool configs_cuda, AdamKind adam, bool distributed) {
  RunPlan plan;
  plan.device_given = axes.count("device") > 0;
  plan.cuda_asked = CudaAsked(axes);
  absl::StatusOr<std::vector<EpochConfig>> epochs = EpochConfigs(axes, configs_cuda);
  if (!epochs.ok()) Fail(std::string(epochs.status().message()));
  absl::StatusOr<std::vector<StepConfig>> steps = StepConfigs(axes, configs_cuda);
  if (!steps.ok()) Fail(std::string(steps.status().message()));
  plan.epochs = *std::move(epochs);
  plan.steps = *std::move(steps);
  const RegistrationOrder order = OrderForRegistration(plan.epochs, plan.steps);
  const bool graphs = !order.graph_steps.empty() || !order.graph_epochs.empty();
  if (adam == AdamKind::kLoop && graphs) {
    // torch::optim::Adam computes its bias corrections on the host: a graph would freeze them.
    Fail("--graph=1: needs --adam=fused (the loop update cannot be captured)");
  }
  if (distributed && graphs) {
    Fail("--graph=1: not with WORLD_SIZE>1 (the gradient reducer's hooks run on the host, outside a graph)");
  }
  return plan;
}

bool AnyOnCuda(const std::vector<EpochConfig>& configs) {
  return std::any_of(configs.begin(), configs.end(),
                     [](const EpochConfig& c) { return c.device == DeviceKind::kCuda; });
}

namespace {

// A world of several ranks: CPU epochs over Gloo, CUDA ones over NCCL where the world has it;
// the all-reduce on the world's device's group.
void RegisterWorld(const RegistrationOrder& order, const Harness& env, WorldComm& dist, bool nccl, bool quiet) {
  std::vector<EpochConfig> epochs;
  for (const EpochConfig& c : order.epochs) {
    if (c.device == DeviceKind::kCpu || dist.cuda) epochs.push_back(c);
  }
  if (epochs.size() < order.epochs.size() && dist.world.rank == 0 && !quiet) {
    std::fprintf(stderr, "trainbench: WORLD_SIZE>1 runs the device:cpu epochs only (%zu of %zu): %s\n", epochs.size(),
                 order.epochs.size(), nccl ? "no CUDA GPU here" : "this build has no CUDA process group (NCCL)");
  }
  RegisterAllReduce(DefaultAllReduceBytes(), dist, env.cuda.get());
  RegisterDataParallelEpoch(epochs, env, dist);
}

}  // namespace

std::vector<std::string> RegisterPlan(const RunPlan& plan, const Harness& env, WorldComm& dist, bool nccl,
                                      bool quiet_about_cpu_only) {
  const RegistrationOrder order = OrderForRegistration(plan.epochs, plan.steps);
  if (dist.world.distributed()) {
    RegisterWorld(order, env, dist, nccl, quiet_about_cpu_only);
    return RegisteredNames();
  }
  RegisterTrainEpoch(order.epochs, env);
  RegisterTrainStep(order.steps, env);
  RegisterDataLoader(LoaderConfigs(plan.epochs), env);
  // Transfers have none of the axes; --device without cuda leaves them out.
  if (!plan.device_given || plan.cuda_asked) RegisterTransfers(DefaultTransfers(env.cuda != nullptr), env);
  RegisterTrainStep(order.graph_steps, env);
  RegisterTrainEpoch(order.graph_epochs, env);
  // NCCL with a world of one, last: the all-reduce sizes and the first CUDA epoch row again
  // as ranks:1, data-parallel (GradientSync over a group of one), so that one GPU shows the
  // NCCL path working and what DDP's machinery costs against the plain row beside it.
  const auto first_cuda = std::find_if(order.epochs.begin(), order.epochs.end(),
                                       [](const EpochConfig& c) { return c.device == DeviceKind::kCuda; });
  if (nccl && env.cuda && first_cuda != order.epochs.end()) {
    dist.cuda = true;
    RegisterAllReduce(DefaultAllReduceBytes(), dist, env.cuda.get());
    RegisterDataParallelEpoch({*first_cuda}, env, dist);
    benchmark::AddCustomContext("dist_backend", BackendName(dist));
    benchmark::AddCustomContext("dist_backend_version", BackendVersion(dist));
  }
  return RegisteredNames();
}

}  // namespace trainbench
