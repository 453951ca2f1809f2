// trainbench's command line: Google Benchmark's flags first (it removes its own), then
// trainbench's (Abseil flags, one sentence of help each, in flags.cc) and the axis flags of
// bench/suite/axis_table.h, read once into a CommandLine. Bad input is one line on stderr and
// exit status 2 (Fail): absl::ParseCommandLine would exit with status 1 and several lines.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/harness/harness.h"
#include "bench/harness/reporter.h"
#include "bench/suite/axis_table.h"
#include "fixtures/dataset.h"

namespace trainbench {

// --fail_on_skip: a benchmark was skipped (out of memory, the memory guard, no GPU, ...).
inline constexpr int kSkippedExit = 4;
inline constexpr int kBadInput = 2;  // the exit status of every bad-input line

struct CommandLine {
  BenchmarkOut out;  // --benchmark_out, taken from Google Benchmark: trainbench writes it
  AxisFlags axes;    // the axis flags as given
  RunOptions run;
  // What every rank of a world must agree on (CheckSameRun): "flag --x=1", "environment
  // BENCHMARK_...=..."; main adds the data and the benchmarks registered.
  std::vector<std::string> run_lines;
  bool random_interleaving = false;  // --benchmark_enable_random_interleaving
  int cpu_threads = 0;               // --cpu_threads (0: main's default)
  int cores = 1;                     // this machine's hardware threads
  bool fail_on_skip = false;         // exit kSkippedExit when a benchmark was skipped
  std::chrono::seconds dist_timeout{120};
};

// REQUIRES: called once, first. Exits with one line and status 2 on bad input.
CommandLine ParseCommandLine(int argc, char** argv);

// The training and test data (--dataset, --data_dir, --samples, --seed); exits 2 naming a
// data file that cannot be read.
FashionMnist LoadData(bool cuda_available);

// "trainbench: <line>" on stderr, exit status 2.
[[noreturn]] void Fail(const std::string& line);
// A failed write of the results file: one line, exit 2, from between benchmarks (the
// reporter); _Exit, because LibTorch's and CUDA's static destructors must not run under a
// half-finished run.
[[noreturn]] void FailWrite(const absl::Status& status);

}  // namespace trainbench
