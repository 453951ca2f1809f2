// Google Benchmark's own filter matching, run before anything else is: a --benchmark_filter
// that does not compile or matches nothing is one line and exit 2 before any file is written.
#pragma once

#include <benchmark/benchmark.h>

#include <sstream>
#include <string>
#include <vector>

namespace trainbench {

// A reporter that prints nothing and keeps Google Benchmark's messages. run = true: ranks
// other than 0 report to it, so that one run prints one table (ReportContext returning false
// would run nothing on this rank and leave the others waiting in their first collective).
// run = false: the filter probe (RunSpecifiedBenchmarks stops when the context is declined).
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

// REQUIRES: the benchmarks are registered, and Google Benchmark has no --benchmark_out (main
// took it), so that no file is opened. Exits 2 with one line when the filter matches nothing.
void CheckFilter();

}  // namespace trainbench
