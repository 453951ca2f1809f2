// trainbench: the GPU-training lab as Google Benchmark families. bench/main.cc runs
// TrainbenchMain with CUDA's devices; the tests run it with their test device.
//
// TrainbenchMain parses Google Benchmark's flags first, then trainbench's own (Abseil flags, below),
// checks the results file can be written, loads the data once, builds the device contexts,
// writes the run's context into the JSON, registers the benchmarks the axis flags ask for,
// checks --benchmark_filter matches some, and runs them. A bad flag, data file or output path
// is one line on stderr and exit code 2; a benchmark that fails is skipped and the rest run.
//
// The results file (--benchmark_out) is rewritten atomically after every finished benchmark
// (bench/harness/reporter.h), so it is complete and valid whatever ends the run. SIGINT and SIGTERM
// stop the run at the next step boundary (bench/harness/interrupt.h): exit status 130 or 143.
//
// Under a launcher (torchrun, Slurm: bench/dist/world.h) with more than one rank, every rank runs
// this same main with the same flags and registers the same benchmarks in the same order; the
// ranks meet at the rendezvous (bench/dist/distributed.h) after the filter check, and only rank 0
// prints the table and writes --benchmark_out. Such a world runs BM_AllReduce and the
// data-parallel BM_TrainEpoch (bench/families/data_parallel.h), on the CPU with Gloo.
#include <benchmark/benchmark.h>

#include <signal.h>
#include <unistd.h>  // environ

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "absl/flags/flag.h"
#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "bench/suite/axis_table.h"
#include "bench/suite/lab_suite.h"
#include "bench/families/counters.h"
#include "bench/families/data_parallel.h"
#include "bench/dist/distributed.h"
#include "bench/harness/harness.h"
#include "bench/harness/interrupt.h"
#include "bench/harness/reporter.h"
#include "bench/harness/results_file.h"
#include "bench/harness/trainbench_main.h"
#include "bench/dist/world.h"
#include "models/model_table.h"
#include "fixtures/dataset.h"
#include "fixtures/device.h"
#include "git_commit.h"  // generated at build time

// Google Benchmark's own flag, exported by libbenchmark but not declared in its header.
namespace benchmark {
extern bool FLAGS_benchmark_enable_random_interleaving;
}  // namespace benchmark

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
ABSL_FLAG(bool, channels_last, false,
          "Weights and activations in NHWC (channels_last) memory format.");
ABSL_FLAG(bool, cudnn_benchmark, false,
          "cuDNN autotunes convolution algorithms per shape (every shape is warmed up first).");
ABSL_FLAG(int32_t, cpu_threads, 0,
          "LibTorch intra-op threads (0: all cores, or 1 per rank with WORLD_SIZE>1; at most 4x "
          "the cores).");
ABSL_FLAG(bool, quiet, false, "No per-epoch progress lines on stderr.");
ABSL_FLAG(std::string, adam, "fused",
          "Adam update: fused (one multi-tensor kernel per step) or loop (torch::optim::Adam, "
          "kernels per parameter).");
ABSL_FLAG(bool, trace_epoch, true,
          "After the timed epochs, trace one untimed epoch (BM_TrainStep: iteration) with CUPTI "
          "for gpu_kernel_busy_pct and kernel_ms_per_step (CUDA).");
ABSL_FLAG(bool, memory_guard, true,
          "Skip a benchmark whose estimated memory need does not fit what the device can give "
          "(\"needs about X GiB, Y GiB available\"); --no_memory_guard runs it anyway.");
ABSL_FLAG(int32_t, dist_timeout_s, 120,
          "With WORLD_SIZE>1: seconds the rendezvous, and then each collective, may wait for the "
          "other ranks before the run ends with an error.");

namespace trainbench {
namespace {

constexpr int64_t kCpuDefaultSamples = 2048;
constexpr int kBadInput = 2;

// Google Benchmark's flags whose bad values it reports itself, with one line on stderr, before
// leaving the argument unparsed ("The value of flag --benchmark_repetitions is expected to be a
// 32-bit integer, but actually has value "abc"."): the exit status is then all that is missing.
const char* const kBenchmarkNumericFlags[] = {"benchmark_min_time", "benchmark_min_warmup_time",
                                              "benchmark_repetitions", "v"};

// trainbench's own flags: those defined in this file, from Abseil's registry (which also
// holds Abseil's own, --flagfile, --fromenv, ...), by name. Filename() is __FILE__ as the
// flag was defined, with Abseil's normalization (leading "/" and "./" dropped): a suffix.
const std::map<std::string, absl::CommandLineFlag*>& OwnFlags() {
  static const auto* const flags = [] {
    auto* out = new std::map<std::string, absl::CommandLineFlag*>;
    for (const auto& [name, flag] : absl::GetAllFlags()) {
      const std::string file = flag->Filename();
      if (!file.empty() && absl::EndsWith(__FILE__, file)) out->emplace(std::string(name), flag);
    }
    return out;
  }();
  return *flags;
}

absl::CommandLineFlag* OwnFlag(absl::string_view name) {
  const auto it = OwnFlags().find(std::string(name));
  return it == OwnFlags().end() ? nullptr : it->second;
}

bool OneOf(absl::string_view name, absl::Span<const char* const> names) {
  for (const char* n : names) {
    if (name == n) return true;
  }
  return false;
}

[[noreturn]] void Fail(const std::string& line) {
  std::fprintf(stderr, "trainbench: %s\n", line.c_str());
  std::exit(kBadInput);
}

void PrintHelp() {
  benchmark::PrintDefaultHelp();
  std::fprintf(stdout,
               "\ntrainbench axis flags: with none given, the lab sweep runs (the default suite, see\n"
               "  --benchmark_list_tests). With any given, the cartesian product of the given values runs,\n"
               "  each other axis at its value when not given. An empty value (--batch=) is an error.\n");
  for (const AxisSpec& axis : Axes()) {
    std::fprintf(stdout, "  --%s=...\n      %s\n", std::string(axis.name).c_str(), std::string(axis.help).c_str());
  }
  std::fprintf(stdout, "\ntrainbench flags:\n");
  for (const auto& [name, flag] : OwnFlags()) {
    std::fprintf(stdout, "  --%s=%s%s\n      %s\n", name.c_str(), flag->DefaultValue().c_str(),
                 flag->IsOfType<bool>() ? absl::StrCat(" (--no", name, " to turn off)").c_str() : "",
                 flag->Help().c_str());
  }
}

// The axis flags as given (bench/suite/axis_table.h), filled by ParseOwnFlags.
AxisFlags given_axes;

// Parses what benchmark::Initialize left: only trainbench's own flags, as --name=value (or
// --name / --noname for booleans), and the axis flags of bench/axis_table.h. absl::ParseCommandLine would exit with status 1 and
// several lines on a bad value; users and scripts get one line and status 2 instead.
void ParseOwnFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::StartsWith(arg, "-")) Fail(absl::StrCat(arg, ": unexpected argument"));
    arg.remove_prefix(absl::StartsWith(arg, "--") ? 2 : 1);
    const size_t eq = arg.find('=');
    absl::string_view name = arg.substr(0, eq);
    std::string value = eq == absl::string_view::npos ? "" : std::string(arg.substr(eq + 1));
    if (FindAxis(name) != nullptr) {
      if (eq == absl::string_view::npos) Fail(absl::StrCat("--", name, ": needs a value (--", name, "=...)"));
      if (absl::Status s = CheckAxisValue(name, value); !s.ok()) Fail(std::string(s.message()));
      std::vector<std::string>& values = given_axes[std::string(name)];
      for (std::string& v : SplitAxisValues({value})) values.push_back(std::move(v));
      continue;
    }
    absl::CommandLineFlag* flag = OwnFlag(name);
    bool known = flag != nullptr;
    if (!known && absl::StartsWith(name, "no") && eq == absl::string_view::npos) {
      // --noquiet (Abseil's form) or --no_memory_guard, for every boolean flag.
      absl::string_view negated = name.substr(absl::StartsWith(name, "no_") ? 3 : 2);
      flag = OwnFlag(negated);
      if (flag != nullptr && flag->IsOfType<bool>()) {
        name = negated;
        value = "false";
        known = true;
      }
    }
    if (!known && eq != absl::string_view::npos && OneOf(name, kBenchmarkNumericFlags)) {
      std::exit(kBadInput);  // Google Benchmark has printed its line about the value
    }
    if (!known && absl::StartsWith(name, "benchmark_")) {
      Fail(absl::StrCat("--", arg, ": not a Google Benchmark flag, or a value it does not accept (see --help)"));
    }
    if (!known) Fail(absl::StrCat("--", name, ": unknown flag (see --help)"));
    if (eq == absl::string_view::npos && value.empty()) {
      if (!flag->IsOfType<bool>()) Fail(absl::StrCat("--", name, ": needs a value (--", name, "=...)"));
      value = "true";
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) Fail(absl::StrCat("--", name, "=", value, ": ", error));
  }
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
  r.memory_guard = absl::GetFlag(FLAGS_memory_guard);
  r.channels_last = absl::GetFlag(FLAGS_channels_last);
  r.cudnn_benchmark = absl::GetFlag(FLAGS_cudnn_benchmark);
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

void AddContext(const Harness& env) {
  benchmark::AddCustomContext("trainbench_version", TRAINBENCH_VERSION);
  benchmark::AddCustomContext("adam", std::string(AdamName(env.run.adam)));
  benchmark::AddCustomContext("channels_last", env.run.channels_last ? "true" : "false");
  benchmark::AddCustomContext("cudnn_benchmark", env.run.cudnn_benchmark ? "true" : "false");
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

// A reporter that prints nothing and keeps Google Benchmark's messages. run = true: ranks
// other than 0 report to it, so that one run prints one table (ReportContext returning false
// would run nothing on this rank and leave the others waiting in their first collective).
// run = false: Google Benchmark's own filter matching, without running anything
// (RunSpecifiedBenchmarks stops when the context is declined); called after registration and
// while Google Benchmark has no --benchmark_out (main took it), so no file is opened, and a
// filter that does not compile or matches nothing is one line and exit 2 before any file is
// written.
class QuietReporter final : public benchmark::BenchmarkReporter {
 public:
  explicit QuietReporter(bool run) : run_(run) {
    SetOutputStream(&messages_);
    SetErrorStream(&messages_);
  }
  bool ReportContext(const Context&) override { return run_; }
  void ReportRuns(const std::vector<Run>&) override {}
  [[nodiscard]] std::string messages() const { return messages_.str(); }

 private:
  const bool run_;
  std::ostringstream messages_;
};

void CheckFilter() {
  QuietReporter probe(/*run=*/false);
  if (benchmark::RunSpecifiedBenchmarks(&probe) > 0) return;
  const std::string filter = benchmark::GetBenchmarkFilter();
  const std::string messages = probe.messages();
  // "Could not compile benchmark re: <std::regex_error::what()>"
  const std::string compile_error = "Could not compile benchmark re: ";
  if (const size_t at = messages.find(compile_error); at != std::string::npos) {
    Fail(absl::StrCat("--benchmark_filter=", filter, ": not a valid regular expression (",
                      FirstLine(messages.substr(at + compile_error.size())), ")"));
  }
  Fail(absl::StrCat("--benchmark_filter=", filter,
                    ": matches no benchmark (--benchmark_list_tests lists them)"));
}

// A failed write of the results file: one line, exit 2. Called between benchmarks, from the
// reporter; _Exit, because LibTorch's and CUDA's static destructors must not run under a
// half-finished run (the same reason Harness is leaked).
[[noreturn]] void FailWrite(const absl::Status& status) {
  std::cout.flush();
  std::fflush(nullptr);
  std::fprintf(stderr, "trainbench: %s\n", std::string(status.message()).c_str());
  std::fflush(stderr);
  std::_Exit(kBadInput);
}

}  // namespace

CudaDevices SystemCudaDevices() {
  return CudaDevices{CudaAvailable, [] { return static_cast<int>(torch::cuda::device_count()); },
                     [](int gpu) { return MakeCudaContext(gpu); }, NcclBuiltIn()};
}

}  // namespace trainbench

int trainbench::TrainbenchMain(int argc, char** argv, const CudaDevices& gpus) {
  // Gloo writes to its peers with writev, which raises SIGPIPE when a peer has gone: the rank
  // would die of it with no line (CPython ignores SIGPIPE, so PyTorch jobs see EPIPE). Ignored,
  // the write fails with EPIPE, the collective throws, and EndWorld names the rank.
  signal(SIGPIPE, SIG_IGN);
  // --benchmark_out is trainbench's to write (bench/harness/reporter.h); the rest of argv, with room
  // for the "--benchmark_out=" TakeBenchmarkOut appends, goes to Google Benchmark first: it
  // removes its own flags and leaves the rest.
  std::vector<char*> args(argv, argv + argc);
  args.resize(argc + 2, nullptr);
  // What every rank of a world must agree on (CheckSameRun): the flags as given, but the
  // program's path and where rank 0 writes its file.
  std::vector<std::string> run_lines;
  for (int i = 1; i < argc; ++i) {
    if (!absl::StartsWith(argv[i], "--benchmark_out")) run_lines.push_back(absl::StrCat("flag ", argv[i]));
  }
  int args_count = argc;
  const BenchmarkOut out = TakeBenchmarkOut(&args_count, args.data());
  if (absl::Status s = CheckFormats(out); !s.ok()) Fail(std::string(s.message()));
  // Google Benchmark takes each flag's default from BENCHMARK_<FLAG> in the environment:
  // those variables shape the run as flags do, and every rank must see the same.
  for (char** e = environ; *e != nullptr; ++e) {
    if (absl::StartsWith(*e, "BENCHMARK_") && !absl::StartsWith(*e, "BENCHMARK_OUT")) {
      run_lines.push_back(absl::StrCat("environment ", *e));
    }
  }
  benchmark::Initialize(&args_count, args.data(), PrintHelp);
  ParseOwnFlags(args_count, args.data());
  // Google Benchmark shuffles each process's run order on its own: ranks would then pair up
  // different collectives. Its own parse (flag, BENCHMARK_* variable), read back.
  const bool random_interleaving = benchmark::FLAGS_benchmark_enable_random_interleaving;

  // The world, before anything slow: a bad launcher variable is one line and exit 2 at once.
  // Leaked with Harness (its process group's threads must not be joined by static destructors).
  WorldComm& dist = *new WorldComm;
  {
    absl::StatusOr<World> world = ParseWorld(LauncherEnvironment());
    if (!world.ok()) Fail(std::string(world.status().message()));
    dist.world = *world;
    const int32_t timeout_s = absl::GetFlag(FLAGS_dist_timeout_s);
    if (timeout_s < 1) Fail(absl::StrCat("--dist_timeout_s=", timeout_s, ": must be >= 1"));
    dist.timeout = std::chrono::seconds(timeout_s);
  }
  const bool rank0 = dist.world.rank == 0;

  const int cpu_threads = absl::GetFlag(FLAGS_cpu_threads);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (absl::Status s = CheckCpuThreads(cpu_threads, cores); !s.ok()) Fail(std::string(s.message()));
  // LibTorch picked 1 intra-op thread on a 2-core machine here; use every core unless told.
  // With several ranks, one each unless told (torchrun's OMP_NUM_THREADS=1 default): the
  // ranks share the node's cores, and idle intra-op threads spinning in one rank starved the
  // other's Gloo threads here (4 KiB all-reduces about 3x slower with 2 threads each on 2
  // cores, in one run).
  const int default_threads = dist.world.distributed() ? 1 : cores;
  at::set_num_threads(cpu_threads > 0 ? cpu_threads : default_threads);

  const bool cuda_available = gpus.available();
  const bool nccl_built_in = gpus.nccl;
  const AxisFlags& axes = given_axes;
  const std::vector<std::string>& devices_given = axes.count("device") ? axes.at("device") : std::vector<std::string>{};
  const bool cuda_asked = std::any_of(devices_given.begin(), devices_given.end(),
                                      [](const std::string& d) { return absl::EqualsIgnoreCase(d, "cuda"); });
  // Why this rank cannot train on CUDA with the world: said at the rendezvous, where every
  // rank learns it and stops, not here, where the other ranks would wait for this one (and,
  // had they started NCCL, in its init, which has no timeout).
  std::optional<std::string> cuda_problem;
  if (dist.world.distributed() && cuda_asked && !nccl_built_in) {
    cuda_problem = "--device=cuda: with WORLD_SIZE>1 this build has no CUDA process group (nccl.h was not found at build time)";
  } else if (dist.world.distributed() && cuda_asked && !cuda_available) {
    cuda_problem = "--device=cuda: no CUDA GPU is available on this machine (WORLD_SIZE>1)";
  }
  if (dist.world.distributed() && random_interleaving) {
    Fail("--benchmark_enable_random_interleaving: each rank would run its own order (WORLD_SIZE>1)");
  }
  // A rank of a world without the GPU it was asked for reads --device=cuda as given, so that it
  // reaches the rendezvous (with cuda_problem) and every rank stops there with its line.
  const bool configs_cuda = cuda_available || cuda_problem.has_value();
  absl::StatusOr<std::vector<EpochConfig>> epoch_configs = EpochConfigs(axes, configs_cuda);
  if (!epoch_configs.ok()) Fail(std::string(epoch_configs.status().message()));
  absl::StatusOr<std::vector<StepConfig>> step_configs = StepConfigs(axes, configs_cuda);
  if (!step_configs.ok()) Fail(std::string(step_configs.status().message()));
  // A world of several ranks trains on CUDA, one GPU per rank, where it can: NCCL built in, a
  // GPU here, and CUDA rows to run.
  dist.cuda = dist.world.distributed() && nccl_built_in && cuda_available &&
              std::any_of(epoch_configs->begin(), epoch_configs->end(),
                          [](const EpochConfig& c) { return c.device == DeviceKind::kCuda; });

  // Outlives the benchmarks, which hold references to it. Leaked on purpose: CUDA events and
  // streams must not be destroyed by static destructors after the driver has shut down.
  Harness& env = *new Harness;
  env.run = ReadRunOptions();
  // The output path, before the data: a run is not started that cannot save its results.
  // Rank 0's alone: the other ranks of a world write no file.
  std::optional<ResultsFile> results_file;
  if (!out.path.empty() && rank0) {
    absl::StatusOr<ResultsFile> file = ResultsFile::Open(out.path);
    if (!file.ok()) Fail(std::string(file.status().message()));
    results_file.emplace(*std::move(file));
  }
  env.data = LoadData(cuda_available);
  // Ranks whose data differ would take different numbers of steps (a GPU node's default
  // sample count is not a CPU node's, a data file can differ).
  run_lines.push_back(absl::StrCat("data train:", env.data.train.count, " test:", env.data.test.count));
  env.cpu = MakeCpuContext();
  // Each rank of a world on CUDA opens its own GPU, LOCAL_RANK; a world on the CPU opens none
  // (each rank would open GPU 0 and probe its link at once).
  if (cuda_available && (!dist.world.distributed() || dist.cuda)) {
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
  // Autotuned convolutions where asked (plain PyTorch's default is off); warm-up covers
  // every shape a benchmark times, so the tuning stays out of the timed section.
  at::globalContext().setBenchmarkCuDNN(env.run.cudnn_benchmark);
  AddContext(env);
  // The lab suite as declared (bench/suite/lab_suite.cc), for the report and plots to read back:
  // each part's centre and sweeps, whatever the axis flags picked for this run.
  benchmark::AddCustomContext("lab_parts", LabPartsJson(LabSuite(cuda_available)));
  // Every counter's unit and direction (bench/families/counters.cc), and every axis of the names
  // (bench/suite/axis_table.cc), for the tools to read.
  benchmark::AddCustomContext("counters", CountersJson());
  benchmark::AddCustomContext("axes", AxesJson(FamiliesByAxis()));
  // Each model's layers (models/model_table.cc), for the tools to check other implementations by.
  benchmark::AddCustomContext("models", ModelsJson());
  // What runs: the lab suite's points (bench/suite/lab_suite.cc, LabSuite), or the axis flags';
  // every graph:1 row after every other benchmark (OrderForRegistration).
  const RegistrationOrder order = OrderForRegistration(*epoch_configs, *step_configs);
  if (env.run.adam == AdamKind::kLoop && (!order.graph_steps.empty() || !order.graph_epochs.empty())) {
    // torch::optim::Adam computes its bias corrections on the host: a graph would freeze them.
    Fail("--graph=1: needs --adam=fused (the loop update cannot be captured)");
  }
  if (dist.world.distributed()) {
    if (!order.graph_steps.empty() || !order.graph_epochs.empty()) {
      Fail("--graph=1: not with WORLD_SIZE>1 (the gradient reducer's hooks run on the host, outside a graph)");
    }
    // The data-parallel epochs: CPU rows over Gloo, CUDA rows over NCCL where the world has
    // it; the all-reduce on the world's device's group.
    std::vector<EpochConfig> epochs;
    for (const EpochConfig& c : order.epochs) {
      if (c.device == DeviceKind::kCpu || dist.cuda) epochs.push_back(c);
    }
    if (epochs.size() < order.epochs.size() && rank0 && !cuda_problem) {
      std::fprintf(stderr, "trainbench: WORLD_SIZE>1 runs the device:cpu epochs only (%zu of %zu): %s\n",
                   epochs.size(), order.epochs.size(),
                   nccl_built_in ? "no CUDA GPU here" : "this build has no CUDA process group (NCCL)");
    }
    RegisterAllReduce(DefaultAllReduceBytes(), dist, env.cuda.get());
    RegisterDataParallelEpoch(epochs, env, dist);
    for (const int64_t b : DefaultAllReduceBytes()) {
      run_lines.push_back(absl::StrCat("benchmark ", AllReduceBenchmarkName(b, dist.world.size)));
    }
    for (const EpochConfig& c : epochs) {
      run_lines.push_back(absl::StrCat("benchmark ", DataParallelBenchmarkName(c, dist.world.size)));
    }
  } else {
    RegisterTrainEpoch(order.epochs, env);
    RegisterTrainStep(order.steps, env);
    RegisterDataLoader(LoaderConfigs(*epoch_configs), env);
    // Transfers have none of the axes; --device without cuda leaves them out.
    if (devices_given.empty() || cuda_asked) {
      RegisterTransfers(DefaultTransfers(cuda_available), env);
    }
    RegisterTrainStep(order.graph_steps, env);
    RegisterTrainEpoch(order.graph_epochs, env);
    // NCCL with a world of one, last: the all-reduce sizes and the first CUDA epoch row again
    // as ranks:1, data-parallel (GradientSync over a group of one), so that one GPU shows
    // the NCCL path working and what DDP's machinery costs against the plain row beside it.
    const auto first_cuda = std::find_if(order.epochs.begin(), order.epochs.end(),
                                         [](const EpochConfig& c) { return c.device == DeviceKind::kCuda; });
    if (nccl_built_in && env.cuda && first_cuda != order.epochs.end()) {
      dist.cuda = true;
      RegisterAllReduce(DefaultAllReduceBytes(), dist, env.cuda.get());
      RegisterDataParallelEpoch({*first_cuda}, env, dist);
      benchmark::AddCustomContext("dist_backend", BackendName(dist));
      benchmark::AddCustomContext("dist_backend_version", BackendVersion(dist));
    }
  }
  // Every rank checks the same filter against the same list, so a bad filter ends them all
  // here, before any of them waits at the rendezvous.
  CheckFilter();
  if (dist.world.distributed()) {
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

  std::unique_ptr<benchmark::BenchmarkReporter> file_reporter;
  if (results_file) {
    file_reporter = std::make_unique<ResultsFileReporter>(*std::move(results_file), out.format, FailWrite);
  }
  std::unique_ptr<benchmark::BenchmarkReporter> display;
  if (rank0) {
    display.reset(benchmark::CreateDefaultDisplayReporter());
  } else {
    display = std::make_unique<QuietReporter>(/*run=*/true);
  }
  RunReporter reporter(std::move(display), std::move(file_reporter));
  // A file-size limit (ulimit -f) then fails the write with EFBIG and its one line, instead
  // of killing the process with SIGXFSZ.
  signal(SIGXFSZ, SIG_IGN);
  InstallInterruptHandlers();
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (StopRequested() && rank0) {
    const RunCounts c = reporter.counts();
    // The one line that says what the run got done; the JSON has a row for each benchmark.
    const std::string line = absl::StrCat(
        "trainbench: ", InterruptedMessage(StopSignal()), ": ", c.finished, " of ", c.total(),
        " benchmarks finished (", c.interrupted, " interrupted, ", c.not_run, " not run",
        c.skipped > 0 ? absl::StrCat(", ", c.skipped, " skipped") : "", ")",
        out.path.empty() ? "" : absl::StrCat("; results in ", out.path));
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  ShutdownWorld(dist);
  if (StopRequested()) return InterruptExitStatus(StopSignal());
  return 0;
}
