#include "bench/harness/run_context.h"

#include <benchmark/benchmark.h>

#include <ATen/Parallel.h>
#include <torch/version.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/families/counters.h"
#include "bench/suite/axis_table.h"
#include "bench/suite/configs.h"
#include "bench/suite/lab_suite.h"
#include "git_commit.h"  // generated at build time
#include "models/model_table.h"

namespace trainbench {

void AddContext(const Harness& env) {
  benchmark::AddCustomContext("trainbench_version", TRAINBENCH_VERSION);
  benchmark::AddCustomContext("adam", std::string(AdamName(env.run.adam)));
  benchmark::AddCustomContext("channels_last", env.run.channels_last ? "true" : "false");
  benchmark::AddCustomContext("cudnn_benchmark", env.run.cudnn_benchmark ? "true" : "false");
  // How many samples each row took: a fixed count, or the stopping criterion's rule.
  const StoppingCriterion& c = env.run.criterion;
  benchmark::AddCustomContext(
      "stopping_criterion",
      c.on() ? absl::StrFormat("max_noise %g%%, min_samples %d, max_seconds %g s", c.max_noise_pct, c.min_samples,
                               c.max_seconds)
             : absl::StrCat("off: ", env.run.epochs, " epochs; BM_TrainStep as Google Benchmark chooses"));
  benchmark::AddCustomContext("warmup",
                              absl::StrFormat("at least %d steps, then until the last %d are within %g%% "
                                              "of their median, at most %d",
                                              env.run.warmup_steps, env.run.Stability().window_steps,
                                              env.run.Stability().tolerance_pct, env.run.Stability().ceiling_steps));
  benchmark::AddCustomContext("git_commit", TRAINBENCH_GIT_COMMIT);
  benchmark::AddCustomContext("libtorch_version", TORCH_VERSION);
  benchmark::AddCustomContext("cpu_threads", absl::StrCat(at::get_num_threads()));
  benchmark::AddCustomContext("data_dir", env.data.source);
  benchmark::AddCustomContext("train_samples", absl::StrCat(env.data.train.count));
  benchmark::AddCustomContext("test_samples", absl::StrCat(env.data.test.count));
  for (const auto& [key, value] : env.cpu->Describe()) benchmark::AddCustomContext(key, value);
  if (env.cuda) {
    for (const auto& [key, value] : env.cuda->Describe()) benchmark::AddCustomContext(key, value);
  } else {
    benchmark::AddCustomContext("device_name", "cpu only");
  }
}

// Only for a world of more than one rank: a world of one's context stays as it was.
void AddWorldContext(const WorldComm& dist) {
  benchmark::AddCustomContext("world_size", absl::StrCat(dist.world.size));
  benchmark::AddCustomContext("launcher", LauncherName(dist.world.launcher));
  benchmark::AddCustomContext("dist_backend", BackendName(dist));
  benchmark::AddCustomContext("dist_backend_version", BackendVersion(dist));
  benchmark::AddCustomContext("dist_timeout_s", absl::StrCat(dist.timeout.count() / 1000));
  benchmark::AddCustomContext("nodes", absl::StrCat(dist.nodes));
  benchmark::AddCustomContext("ranks_per_node", absl::StrCat(dist.ranks_per_node));
  // GPUs the ranks train on: one per rank on CUDA, none on the CPU (Gloo).
  benchmark::AddCustomContext("gpus_per_node", absl::StrCat(dist.cuda ? dist.ranks_per_node : 0));
}

void AddDeclarations(bool cuda_available) {
  // The lab suite as declared (bench/suite/lab_suite.cc), for the report and plots to read
  // back: each part's centre and sweeps, whatever the axis flags picked for this run.
  benchmark::AddCustomContext("lab_parts", LabPartsJson(LabSuite(cuda_available)));
  // Every counter's unit and direction (bench/families/counters.cc), every axis of the names
  // (bench/suite/axis_table.cc) and each model's layers (models/model_table.cc), for the
  // tools to read.
  benchmark::AddCustomContext("counters", CountersJson());
  benchmark::AddCustomContext("axes", AxesJson(FamiliesByAxis()));
  benchmark::AddCustomContext("models", ModelsJson());
}

}  // namespace trainbench
