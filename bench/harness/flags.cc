#include "bench/harness/flags.h"

#include <unistd.h>  // environ

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "bench/harness/flag_checks.h"
#include "common/sample_stats.h"

// Google Benchmark's own flags (1.7.1), exported by libbenchmark but not declared in its header.
namespace benchmark {
extern bool FLAGS_benchmark_enable_random_interleaving;
extern int32_t FLAGS_benchmark_repetitions;
extern double FLAGS_benchmark_min_time;
extern double FLAGS_benchmark_min_warmup_time;
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
// The help repeats WarmupStability's defaults (a flag's help is a literal): kept equal here.
static_assert(trainbench::WarmupStability{}.window_steps == 5 && trainbench::WarmupStability{}.tolerance_pct == 10 &&
                  trainbench::WarmupStability{}.ceiling_steps == 100,
              "--warmup_steps' help states the window, tolerance and ceiling of common/sample_stats.h");
ABSL_FLAG(int32_t, warmup_steps, 5,
          "Untimed optimizer steps before the first timed one, at least; then on until step time has "
          "settled (the last 5 within 10% of their median, at most 100 steps), and the epoch's smaller "
          "last batch. 0, with no --warmup_seconds: no warm-up.");
ABSL_FLAG(double, warmup_seconds, -1, "Warm-up lasts at least this many seconds too.");
ABSL_FLAG(int32_t, epochs, 2, "Timed epochs per BM_TrainEpoch benchmark.");
ABSL_FLAG(double, max_noise, 0,
          "Stopping criterion, percent: each BM_TrainEpoch/BM_TrainStep row takes samples (epochs, "
          "iterations of steps) until their relative standard deviation is at most this, with at "
          "least --min_samples, or until --max_seconds of timed work (0: off, --epochs samples; the lab "
          "suite, with no axis flag, has its own, docs/command-line.md).");
ABSL_FLAG(int32_t, min_samples, 3,
          "With --max_noise: the fewest samples a row takes before it may stop, on noise or on time.");
ABSL_FLAG(double, max_seconds, 60,
          "With --max_noise: timed seconds after which a row stops, noisy or not, once it has --min_samples.");
ABSL_FLAG(bool, channels_last, false, "Weights and activations in NHWC (channels_last) memory format.");
ABSL_FLAG(bool, cudnn_benchmark, false,
          "cuDNN autotunes convolution algorithms per shape (every shape is warmed up first).");
ABSL_FLAG(int32_t, cpu_threads, 0,
          "LibTorch intra-op threads (0: all cores, or 1 per rank with WORLD_SIZE>1; at most 4x "
          "the cores).");
ABSL_FLAG(bool, quiet, false, "No per-epoch progress lines on stderr.");
ABSL_FLAG(bool, fail_on_skip, false,
          "Exit with status 4 when any benchmark was skipped (out of memory, the memory guard, no GPU, a "
          "precision the device does not run), so that CI sees a run without data.");
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
    const FlagRange* range = FindFlagRange(name);
    std::fprintf(stdout, "  --%s=%s%s\n      %s%s\n", name.c_str(), flag->DefaultValue().c_str(),
                 flag->IsOfType<bool>() ? absl::StrCat(" (--no", name, " to turn off)").c_str() : "",
                 flag->Help().c_str(), range ? absl::StrCat(" Range: ", RangeText(*range), ".").c_str() : "");
  }
  std::fprintf(stdout, "\nGoogle Benchmark's numeric flags, as trainbench accepts them:\n");
  for (const FlagRange& range : kFlagRanges) {
    if (OwnFlag(range.flag) == nullptr) {
      std::fprintf(stdout, "  --%s: %s\n", std::string(range.flag).c_str(), RangeText(range).c_str());
    }
  }
}

// trainbench's own flags given on the command line (Abseil's IsSpecifiedOnCommandLine is not
// set by ParseFrom), for the defaults that depend on what was given.
std::set<std::string>& GivenFlags() {
  static auto* const given = new std::set<std::string>;
  return *given;
}

// The stopping criterion: the flags as given; for the lab suite (no axis flag), the suite's own
// (LabSuiteCriterion) where --max_noise, --min_samples or --max_seconds is not given.
StoppingCriterion ReadCriterion(bool lab_suite) {
  const auto given = [](const char* flag) { return GivenFlags().count(flag) > 0; };
  const bool lab = lab_suite && !given("max_noise");
  StoppingCriterion c = lab ? LabSuiteCriterion() : StoppingCriterion{};
  if (!lab) c.max_noise_pct = absl::GetFlag(FLAGS_max_noise);
  if (!lab || given("min_samples")) c.min_samples = absl::GetFlag(FLAGS_min_samples);
  if (!lab || given("max_seconds")) c.max_seconds = absl::GetFlag(FLAGS_max_seconds);
  return c;
}

// Parses what benchmark::Initialize left: only trainbench's own flags, as --name=value (or
// --name / --noname for booleans), and the axis flags of bench/suite/axis_table.h. absl::ParseCommandLine would exit
// with status 1 and several lines on a bad value; users and scripts get one line and status 2 instead.
AxisFlags ParseOwnFlags(int argc, char** argv) {
  AxisFlags given_axes;
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
      // The last occurrence wins, as for every other flag (and as Abseil's vector flags did).
      given_axes[std::string(name)] = SplitAxisValues({value});
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
    GivenFlags().insert(std::string(name));
  }
  return given_axes;
}

// The value of a flag of kFlagRanges: Google Benchmark's as it parsed them, trainbench's from
// Abseil's registry.
double RangedFlagValue(absl::string_view name) {
  if (name == "benchmark_repetitions") return benchmark::FLAGS_benchmark_repetitions;
  if (name == "benchmark_min_time") return benchmark::FLAGS_benchmark_min_time;
  if (name == "benchmark_min_warmup_time") return benchmark::FLAGS_benchmark_min_warmup_time;
  const absl::CommandLineFlag* flag = OwnFlag(name);
  if (flag == nullptr) Fail(absl::StrCat("internal error: --", name, " has a range but is no flag"));
  if (auto v = flag->TryGet<int32_t>()) return *v;
  if (auto v = flag->TryGet<int64_t>()) return static_cast<double>(*v);
  if (auto v = flag->TryGet<double>()) return *v;
  Fail(absl::StrCat("internal error: --", name, " has a range but is not a number"));
}

void CheckFlagRanges() {
  for (const FlagRange& range : kFlagRanges) {
    if (absl::Status s = CheckFlagRange(range, RangedFlagValue(range.flag)); !s.ok()) Fail(std::string(s.message()));
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
  return r;
}

}  // namespace

[[noreturn]] void Fail(const std::string& line) {
  std::fprintf(stderr, "trainbench: %s\n", line.c_str());
  std::exit(kBadInput);
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

CommandLine ParseCommandLine(int argc, char** argv) {
  CommandLine cl;
  // --benchmark_out is trainbench's to write (bench/harness/reporter.h); the rest of argv,
  // with room for the "--benchmark_out=" TakeBenchmarkOut appends, goes to Google Benchmark
  // first: it removes its own flags and leaves the rest. Leaked: Google Benchmark keeps argv.
  auto* args = new std::vector<char*>(argv, argv + argc);
  args->resize(argc + 2, nullptr);
  // What every rank of a world must agree on (CheckSameRun): the flags as given, but the
  // program's path and where rank 0 writes its file.
  for (int i = 1; i < argc; ++i) {
    if (!absl::StartsWith(argv[i], "--benchmark_out")) cl.run_lines.push_back(absl::StrCat("flag ", argv[i]));
  }
  int args_count = argc;
  cl.out = TakeBenchmarkOut(&args_count, args->data());
  if (absl::Status s = CheckFormats(cl.out); !s.ok()) Fail(std::string(s.message()));
  // Google Benchmark takes each flag's default from BENCHMARK_<FLAG> in the environment:
  // those variables shape the run as flags do, and every rank must see the same.
  for (char** e = environ; *e != nullptr; ++e) {
    if (absl::StartsWith(*e, "BENCHMARK_") && !absl::StartsWith(*e, "BENCHMARK_OUT")) {
      cl.run_lines.push_back(absl::StrCat("environment ", *e));
    }
  }
  benchmark::Initialize(&args_count, args->data(), PrintHelp);
  cl.axes = ParseOwnFlags(args_count, args->data());
  // Google Benchmark shuffles each process's run order on its own: ranks would then pair up
  // different collectives. Its own parse (flag, BENCHMARK_* variable), read back.
  cl.random_interleaving = benchmark::FLAGS_benchmark_enable_random_interleaving;
  CheckFlagRanges();
  const int32_t timeout_s = absl::GetFlag(FLAGS_dist_timeout_s);
  cl.dist_timeout = std::chrono::seconds(timeout_s);
  cl.cpu_threads = absl::GetFlag(FLAGS_cpu_threads);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (absl::Status s = CheckCpuThreads(cl.cpu_threads, cores); !s.ok()) Fail(std::string(s.message()));
  cl.cores = cores;
  cl.fail_on_skip = absl::GetFlag(FLAGS_fail_on_skip);
  cl.run = ReadRunOptions();
  cl.run.criterion = ReadCriterion(cl.axes.empty());
  return cl;
}

}  // namespace trainbench
