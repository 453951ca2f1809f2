// trainbench: the GPU-training lab as Google Benchmark families. bench/main.cc runs
// TrainbenchMain with CUDA's devices; the tests run it with their test device.
//
// TrainbenchMain parses Google Benchmark's flags first, then trainbench's own (bench/harness/flags.cc),
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
#include "bench/harness/trainbench_main.h"

#include <benchmark/benchmark.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "absl/strings/str_cat.h"
#include "bench/dist/distributed.h"
#include "bench/harness/filter_probe.h"
#include "bench/harness/flags.h"
#include "bench/harness/harness.h"
#include "bench/harness/interrupt.h"
#include "bench/harness/perturbation.h"
#include "bench/harness/registration_plan.h"
#include "bench/harness/reporter.h"
#include "bench/harness/results_file.h"
#include "bench/harness/run_context.h"
#include "bench/harness/world_setup.h"

namespace trainbench {
namespace {

// Runs what is registered: rank 0 prints the table and writes the file, the other ranks of a
// world report to a QuietReporter. Ends with one line after SIGINT/SIGTERM.
RunCounts RunBenchmarks(const BenchmarkOut& out, std::optional<ResultsFile> results_file, bool rank0,
                        std::chrono::steady_clock::time_point suite_start) {
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
  RunReporter reporter(std::move(display), std::move(file_reporter), suite_start);
  // A file-size limit (ulimit -f) then fails the write with EFBIG and its one line, instead
  // of killing the process with SIGXFSZ.
  signal(SIGXFSZ, SIG_IGN);
  InstallInterruptHandlers();
  StartPerturbationWatch();
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  // How much of the run was measurement (the rest: data, models, warm-up, evaluation, traces).
  if (rank0 && reporter.counts().total() > 0) {
    std::fprintf(stderr, "trainbench: %s\n", SuiteLine(reporter.suite_times()).c_str());
  }
  if (StopRequested() && rank0) {
    const RunCounts c = reporter.counts();
    // The one line that says what the run got done; the JSON has a row for each benchmark.
    const std::string line =
        absl::StrCat("trainbench: ", InterruptedMessage(StopSignal()), ": ", c.finished, " of ", c.total(),
                     " benchmarks finished (", c.interrupted, " interrupted, ", c.not_run, " not run",
                     c.skipped > 0 ? absl::StrCat(", ", c.skipped, " skipped") : "",
                     c.kept_repetitions > 0 ? absl::StrCat("; ", c.kept_repetitions, " finished repetitions kept") : "",
                     ")", out.path.empty() ? "" : absl::StrCat("; results in ", out.path));
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return reporter.counts();
}

}  // namespace

CudaDevices SystemCudaDevices() {
  return CudaDevices{CudaAvailable, [] { return static_cast<int>(torch::cuda::device_count()); },
                     [](int gpu) { return MakeCudaContext(gpu); }, NcclBuiltIn()};
}

int TrainbenchMain(int argc, char** argv, const CudaDevices& gpus) {
  // Gloo writes to its peers with writev, which raises SIGPIPE when a peer has gone: the rank
  // would die of it with no line (CPython ignores SIGPIPE, so PyTorch jobs see EPIPE). Ignored,
  // the write fails with EPIPE, the collective throws, and EndWorld names the rank.
  signal(SIGPIPE, SIG_IGN);
  const auto suite_start = std::chrono::steady_clock::now();
  CommandLine cl = ParseCommandLine(argc, argv);
  WorldComm& dist = OpenWorld(cl);
  const bool rank0 = dist.world.rank == 0;
  // LibTorch picked 1 intra-op thread on a 2-core machine here; use every core unless told.
  // With several ranks, one each unless told (torchrun's OMP_NUM_THREADS=1 default): idle
  // intra-op threads spinning in one rank starved the other's Gloo threads here (4 KiB
  // all-reduces about 3x slower with 2 threads each on 2 cores, in one run).
  at::set_num_threads(cl.cpu_threads > 0 ? cl.cpu_threads : dist.world.distributed() ? 1 : cl.cores);
  std::optional<std::string> cuda_problem = WorldCudaProblem(dist, CudaAsked(cl.axes), gpus);
  // A rank of a world without the GPU it was asked for reads --device=cuda as given, so that it
  // reaches the rendezvous (with cuda_problem) and every rank stops there with its line.
  const RunPlan plan =
      MakePlan(cl.axes, gpus.available() || cuda_problem.has_value(), cl.run.adam, dist.world.distributed());
  // A world of several ranks trains on CUDA, one GPU per rank, where it can.
  dist.cuda = dist.world.distributed() && gpus.nccl && gpus.available() && AnyOnCuda(plan.epochs);
  // Outlives the benchmarks, which hold references to it. Leaked on purpose: CUDA events and
  // streams must not be destroyed by static destructors after the driver has shut down.
  Harness& env = *new Harness;
  env.run = cl.run;
  // The output path, before the data: a run is not started that cannot save its results.
  // Rank 0's alone: the other ranks of a world write no file.
  std::optional<ResultsFile> results_file;
  if (!cl.out.path.empty() && rank0) {
    absl::StatusOr<ResultsFile> file = ResultsFile::Open(cl.out.path);
    if (!file.ok()) Fail(std::string(file.status().message()));
    results_file.emplace(*std::move(file));
  }
  env.data = LoadData(gpus.available());
  // Ranks whose data differ would take different numbers of steps.
  cl.run_lines.push_back(absl::StrCat("data train:", env.data.train.count, " test:", env.data.test.count));
  env.cpu = MakeCpuContext();
  OpenGpu(env, dist, gpus, cuda_problem);
  // Autotuned convolutions where asked (plain PyTorch's default is off); warm-up covers
  // every shape a benchmark times, so the tuning stays out of the timed section.
  at::globalContext().setBenchmarkCuDNN(env.run.cudnn_benchmark);
  AddContext(env);
  AddDeclarations(gpus.available());
  for (const std::string& name : RegisterPlan(plan, env, dist, gpus.nccl, cuda_problem.has_value())) {
    cl.run_lines.push_back(absl::StrCat("benchmark ", name));
  }
  // Every rank checks the same filter against the same list, so a bad filter ends them all
  // here, before any of them waits at the rendezvous.
  CheckFilter();
  if (dist.world.distributed()) JoinWorld(dist, cl.run_lines, cuda_problem);
  const RunCounts counts = RunBenchmarks(cl.out, std::move(results_file), rank0, suite_start);
  ShutdownWorld(dist);
  if (StopRequested()) return InterruptExitStatus(StopSignal());
  if (cl.fail_on_skip && rank0 && counts.skipped > 0) {
    std::fprintf(stderr, "trainbench: %d of %d benchmarks skipped (--fail_on_skip)%s\n", counts.skipped, counts.total(),
                 cl.out.path.empty() ? "" : absl::StrCat("; results in ", cl.out.path).c_str());
    return kSkippedExit;
  }
  return 0;
}

}  // namespace trainbench
