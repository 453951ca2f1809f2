// trainbench: the GPU-training lab as Google Benchmark families.
//
// main parses Google Benchmark's flags first, then trainbench's own (Abseil flags, below),
// loads the data once, builds the device contexts, writes the run's context into the JSON,
// registers the benchmarks the axis flags ask for, and runs them. A bad flag or data file is
// one line on stderr and exit code 2; a benchmark that fails is skipped and the rest run.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/version.h>

#include "absl/flags/flag.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/config.h"
#include "bench/env.h"
#include "fixtures/dataset.h"
#include "fixtures/device.h"
#include "git_commit.h"  // generated at build time

// ---- flags: one sentence of help each; read once into trainbench::RunOptions/AxisFlags.
ABSL_FLAG(std::string, data_dir, "",
          "Directory with the Fashion-MNIST {train,t10k}-*-ubyte.gz files (default: "
          "$FASHION_MNIST_DIR, else /usr/share/datasets/fashion-mnist).");
ABSL_FLAG(std::string, dataset, "fashion-mnist",
          "fashion-mnist (the files in --data_dir) or synthetic (random images, no files).");
ABSL_FLAG(int64_t, samples, 0,
          "Training images per epoch, the first N of 60000 (0: all 60000 with a GPU, 2048 on "
          "a CPU-only machine).");
ABSL_FLAG(uint64_t, seed, 0, "Seed for model init, shuffling, augmentation and synthetic data.");
ABSL_FLAG(int32_t, warmup_steps, 20,
          "Untimed optimizer steps before the first timed one, at least (warm-up also runs the "
          "epoch's smaller last batch).");
ABSL_FLAG(double, warmup_seconds, -1,
          "Warm-up lasts at least this many seconds too (-1: 0.5 on cuda, 0 on cpu).");
ABSL_FLAG(int32_t, epochs, 2, "Timed epochs per BM_TrainEpoch benchmark.");
ABSL_FLAG(std::vector<std::string>, batch, {}, "Batch sizes, e.g. 16,64 (axis).");
ABSL_FLAG(std::vector<std::string>, model, {}, "Models: Small, Medium, Large (axis).");
ABSL_FLAG(std::vector<std::string>, workers, {}, "Loader threads, e.g. 0,4 (axis).");
ABSL_FLAG(std::vector<std::string>, precision, {}, "Precisions: fp32, tf32, fp16, bf16 (axis).");
ABSL_FLAG(std::vector<std::string>, pin, {}, "Pinned host memory for batches: 0, 1 (axis).");
ABSL_FLAG(std::vector<std::string>, device, {}, "Devices: cpu, cuda (axis).");
ABSL_FLAG(int32_t, cpu_threads, 0, "LibTorch intra-op threads (0: all cores).");
ABSL_FLAG(bool, quiet, false, "No per-epoch progress lines on stderr.");
ABSL_FLAG(std::string, adam, "fused",
          "Adam update: fused (one multi-tensor kernel per step) or loop (torch::optim::Adam, "
          "kernels per parameter).");
ABSL_FLAG(bool, trace_epoch, true,
          "After the timed epochs, trace one untimed epoch (BM_TrainStep: iteration) with CUPTI "
          "for gpu_kernel_busy_pct and kernel_ms_per_step (CUDA).");

namespace trainbench {
namespace {

constexpr int64_t kCpuDefaultSamples = 2048;
constexpr int kBadInput = 2;

const char* const kOwnFlags[] = {"data_dir", "dataset", "samples", "seed", "warmup_steps",
                                 "warmup_seconds", "epochs", "batch", "model", "workers",
                                 "precision", "pin", "device", "cpu_threads", "quiet", "adam",
                                 "trace_epoch"};

[[noreturn]] void Fail(const std::string& line) {
  std::fprintf(stderr, "trainbench: %s\n", line.c_str());
  std::exit(kBadInput);
}

void PrintHelp() {
  benchmark::PrintDefaultHelp();
  std::fprintf(stdout, "\ntrainbench flags:\n");
  for (const char* name : kOwnFlags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::fprintf(stdout, "  --%s=%s\n      %s\n", name, flag->DefaultValue().c_str(),
                 flag->Help().c_str());
  }
}

// Parses what benchmark::Initialize left: only trainbench's own flags, as --name=value (or
// --name / --noname for booleans). absl::ParseCommandLine would exit with status 1 and
// several lines on a bad value; users and scripts get one line and status 2 instead.
void ParseOwnFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::StartsWith(arg, "-")) Fail(absl::StrCat(arg, ": unexpected argument"));
    arg.remove_prefix(absl::StartsWith(arg, "--") ? 2 : 1);
    const size_t eq = arg.find('=');
    absl::string_view name = arg.substr(0, eq);
    std::string value = eq == absl::string_view::npos ? "" : std::string(arg.substr(eq + 1));
    bool known = false;
    for (const char* own : kOwnFlags) known = known || name == own;
    if (!known && absl::StartsWith(name, "no") && eq == absl::string_view::npos) {
      name.remove_prefix(2);  // --noquiet, --notrace_epoch
      value = "false";
      for (const char* own : kOwnFlags) known = known || name == own;
      known = known && absl::FindCommandLineFlag(name)->IsOfType<bool>();
    }
    if (!known) Fail(absl::StrCat("--", name, ": unknown flag (see --help)"));
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (eq == absl::string_view::npos && value.empty()) {
      if (!flag->IsOfType<bool>()) Fail(absl::StrCat("--", name, ": needs a value (--", name, "=...)"));
      value = "true";
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) Fail(absl::StrCat("--", name, "=", value, ": ", error));
  }
}

AxisFlags ReadAxisFlags() {
  AxisFlags f;
  f.batch = SplitAxisValues(absl::GetFlag(FLAGS_batch));
  f.model = SplitAxisValues(absl::GetFlag(FLAGS_model));
  f.workers = SplitAxisValues(absl::GetFlag(FLAGS_workers));
  f.precision = SplitAxisValues(absl::GetFlag(FLAGS_precision));
  f.pin = SplitAxisValues(absl::GetFlag(FLAGS_pin));
  f.device = SplitAxisValues(absl::GetFlag(FLAGS_device));
  return f;
}

RunOptions ReadRunOptions() {
  RunOptions r;
  r.warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  r.epochs = absl::GetFlag(FLAGS_epochs);
  r.seed = absl::GetFlag(FLAGS_seed);
  r.quiet = absl::GetFlag(FLAGS_quiet);
  r.trace_epoch = absl::GetFlag(FLAGS_trace_epoch);
  r.warmup_seconds = absl::GetFlag(FLAGS_warmup_seconds);
  absl::StatusOr<AdamKind> adam = ParseAdam(absl::GetFlag(FLAGS_adam));
  if (!adam.ok()) Fail(std::string(adam.status().message()));
  r.adam = *adam;
  if (r.warmup_steps < 0) Fail(absl::StrCat("--warmup_steps=", r.warmup_steps, ": must be >= 0"));
  if (!(r.warmup_seconds >= 0) && r.warmup_seconds != -1) {
    Fail(absl::StrCat("--warmup_seconds=", r.warmup_seconds, ": must be >= 0 (or -1, the default)"));
  }
  if (r.epochs < 1) Fail(absl::StrCat("--epochs=", r.epochs, ": must be >= 1"));
  return r;
}

FashionMnist LoadData(bool cuda_available) {
  int64_t samples = absl::GetFlag(FLAGS_samples);
  if (samples < 0) Fail(absl::StrCat("--samples=", samples, ": must be >= 0"));
  if (samples == 0) samples = cuda_available ? kFashionTrainItems : kCpuDefaultSamples;
  const std::string dataset = absl::GetFlag(FLAGS_dataset);
  if (dataset == "synthetic") {
    return MakeSyntheticFashionMnist(samples, kFashionTestItems, absl::GetFlag(FLAGS_seed));
  }
  if (dataset != "fashion-mnist") {
    Fail(absl::StrCat("--dataset=", dataset, ": unknown dataset (expected fashion-mnist or synthetic)"));
  }
  std::string dir = absl::GetFlag(FLAGS_data_dir);
  if (dir.empty()) dir = DefaultFashionMnistDir();
  absl::StatusOr<FashionMnist> data = LoadFashionMnist(dir, samples);
  if (!data.ok()) Fail(std::string(data.status().message()));
  return *std::move(data);
}

void AddContext(const BenchEnv& env) {
  benchmark::AddCustomContext("trainbench_version", TRAINBENCH_VERSION);
  benchmark::AddCustomContext("adam", std::string(AdamName(env.run.adam)));
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

}  // namespace
}  // namespace trainbench

int main(int argc, char** argv) {
  using namespace trainbench;
  // Google Benchmark first: it removes its own flags and leaves the rest.
  benchmark::Initialize(&argc, argv, PrintHelp);
  ParseOwnFlags(argc, argv);

  const int cpu_threads = absl::GetFlag(FLAGS_cpu_threads);
  if (cpu_threads < 0) Fail(absl::StrCat("--cpu_threads=", cpu_threads, ": must be >= 0"));
  // LibTorch picked 1 intra-op thread on a 2-core machine here; use every core unless told.
  at::set_num_threads(cpu_threads > 0 ? cpu_threads
                                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));

  const bool cuda_available = CudaAvailable();
  const AxisFlags axes = ReadAxisFlags();
  absl::StatusOr<std::vector<EpochConfig>> epoch_configs = EpochConfigs(axes, cuda_available);
  if (!epoch_configs.ok()) Fail(std::string(epoch_configs.status().message()));
  absl::StatusOr<std::vector<StepConfig>> step_configs = StepConfigs(axes, cuda_available);
  if (!step_configs.ok()) Fail(std::string(step_configs.status().message()));

  // Outlives the benchmarks, which hold references to it. Leaked on purpose: CUDA events and
  // streams must not be destroyed by static destructors after the driver has shut down.
  BenchEnv& env = *new BenchEnv;
  env.run = ReadRunOptions();
  env.data = LoadData(cuda_available);
  env.cpu = MakeCpuContext();
  if (cuda_available) {
    absl::StatusOr<std::unique_ptr<DeviceContext>> cuda = MakeCudaContext();
    if (!cuda.ok()) Fail(std::string(cuda.status().message()));
    env.cuda = *std::move(cuda);
  }
  AddContext(env);
  RegisterTrainEpoch(*epoch_configs, env);
  RegisterTrainStep(*step_configs, env);
  RegisterDataLoader(LoaderConfigs(*epoch_configs), env);
  // Transfers have none of the axes; --device without cuda leaves them out.
  if (axes.device.empty() ||
      std::any_of(axes.device.begin(), axes.device.end(),
                  [](const std::string& d) { return absl::EqualsIgnoreCase(d, "cuda"); })) {
    RegisterTransfers(env);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
