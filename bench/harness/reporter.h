// How a run reports: the console exactly as Google Benchmark prints it, and with
// --benchmark_out the results file, rendered by Google Benchmark's own JSONReporter (or its
// CSV/console reporter for --benchmark_out_format) and rewritten whole after every finished
// benchmark, so that the file on disk is always a complete document of what finished.
//
// main takes --benchmark_out out of Google Benchmark's hands (TakeBenchmarkOut) and passes a
// RunReporter as the display reporter: the library then never opens the file itself, which it
// would truncate before the first benchmark and leave empty when the filter matches nothing.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/status/status.h"
#include "bench/harness/results_file.h"

namespace trainbench {

// --benchmark_out and --benchmark_out_format as Google Benchmark would read them: the last
// "--benchmark_out=" argument, else $BENCHMARK_OUT; the last "--benchmark_out_format=", else
// $BENCHMARK_OUT_FORMAT, else "json".
struct BenchmarkOut {
  std::string path;  // empty: no results file
  std::string format = "json";
  // --benchmark_format (the table on stdout), else $BENCHMARK_FORMAT, else "console".
  std::string display_format = "console";
};

// Google Benchmark 1.7.1 answers an unknown format by printing its help and exiting 0: both
// formats are checked first. The error is one line, "--benchmark_out_format=xml: not json,
// csv or console".
absl::Status CheckFormats(const BenchmarkOut& out);

// Reads --benchmark_out (and the format) from argv and removes the --benchmark_out arguments
// from it, appending "--benchmark_out=" so that Google Benchmark's flag is empty even when
// $BENCHMARK_OUT is set. --benchmark_out_format stays for Google Benchmark, after CheckFormats.
// REQUIRES: argv has room for *argc + 1 entries (main passes a copy).
BenchmarkOut TakeBenchmarkOut(int* argc, char** argv);

// Renders the results file with a Google Benchmark reporter (JSON, CSV or console, without
// color) and writes it through a ResultsFile after the context and after every finished
// benchmark. A failed write calls on_error with the ResultsFile's message (main prints it and
// exits with status 2; the previous complete file stays).
class ResultsFileReporter final : public benchmark::BenchmarkReporter {
 public:
  ResultsFileReporter(ResultsFile file, const std::string& format, std::function<void(const absl::Status&)> on_error);
  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;
  // Context entries known only at the end (the suite's times), added to a JSON file's context
  // when it is finalized; the intermediate files lack them. Other formats have no context.
  void AddFinalContext(std::vector<std::pair<std::string, std::string>> entries) {
    final_context_ = std::move(entries);
  }

 private:
  void Publish(bool final);

  ResultsFile file_;
  std::unique_ptr<benchmark::BenchmarkReporter> format_;
  std::ostringstream body_;  // everything format_ has written so far
  std::function<void(const absl::Status&)> on_error_;
  bool json_ = false;
  std::vector<std::pair<std::string, std::string>> final_context_;
};

// A JSON document's text with entries added at the end of its context object (after Google
// Benchmark's own and the custom ones), as JSON strings; the text unchanged when it has no
// context block.
[[nodiscard]] std::string WithContextEntries(const std::string& json,
                                             const std::vector<std::pair<std::string, std::string>>& entries);

// A suite's wall time and the part of it that was timed work, s.
struct SuiteTimes {
  double wall_seconds = 0;
  double timed_seconds = 0;
};
// The timed seconds a run stands for: its manual time; for a row that took its samples inside
// one iteration (--max_noise: noise_met is set), the mean times noise_samples times
// sample_iterations (1 when absent). 0 for an errored run or an aggregate.
[[nodiscard]] double TimedSeconds(const benchmark::BenchmarkReporter::Run& run);
// "suite: 212 s, 125 s timed (59%)".
[[nodiscard]] std::string SuiteLine(const SuiteTimes& t);
// The context entries "suite_wall_s" and "suite_timed_s", in seconds with 0.1 s.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> SuiteContext(const SuiteTimes& t);

// The console's context header with each long JSON entry (the declarations the tools read:
// axes, counters, lab_parts, models; several KB each) shortened to "axes: JSON, 1431 bytes (whole in the
// JSON output)". Lines up to kLongContextLineChars, and every other line, stay.
inline constexpr size_t kLongContextLineChars = 160;
[[nodiscard]] std::string ShortenJsonContextLines(const std::string& header);

// Repetitions reported so far, by benchmark name (the run name, without an aggregate's suffix).
struct RepetitionCounts {
  int64_t reported = 0;
  int64_t finished = 0;     // without an error
  std::string first_error;  // "" when none has one
};
using RepetitionsByName = std::map<std::string, RepetitionCounts>;
void CountRepetitions(const std::vector<benchmark::BenchmarkReporter::Run>& runs, RepetitionsByName& counts);

// With --benchmark_repetitions, Google Benchmark computes the aggregates (mean, median,
// stddev, cv) over the repetitions that finished but reports as their iterations the count of
// all of them, errored ones included (1.7.1, statistics.cc). The runs with each aggregate's
// iterations set to the finished repetitions in counts (its printed times unchanged), so an
// interrupted run's "_mean" says it is the mean of the 2 that finished, not of 4.
[[nodiscard]] std::vector<benchmark::BenchmarkReporter::Run> AggregatesOverFinishedRepetitions(
    const std::vector<benchmark::BenchmarkReporter::Run>& runs, const RepetitionsByName& counts);

// The runs without the samples label of each row (bench/families/sampling.h: up to 1000
// numbers, for the tools): the console shows the row's noise counters instead.
[[nodiscard]] std::vector<benchmark::BenchmarkReporter::Run> WithoutSamplesLabels(
    const std::vector<benchmark::BenchmarkReporter::Run>& runs);

// How the benchmarks of a run ended, by name (repetitions and aggregates of one benchmark
// count once).
struct RunCounts {
  int finished = 0;     // no error
  int interrupted = 0;  // cut short by SIGINT/SIGTERM ("interrupted by ..."), repetitions too
  int not_run = 0;      // started after the stop ("not run: ...")
  int skipped = 0;      // any other error (unsupported precision, out of memory, memory guard)
  // Finished repetitions of the interrupted benchmarks (--benchmark_repetitions): kept in the
  // results, with aggregates over them when there are at least 2.
  int kept_repetitions = 0;
  [[nodiscard]] int total() const { return finished + interrupted + not_run + skipped; }
};

// The display reporter main passes to RunSpecifiedBenchmarks: forwards everything to the
// console reporter (unchanged output, but for the header's JSON entries: ShortenJsonContextLines)
// and to the results file reporter (if any), and counts
// outcomes for the final line after an interrupt.
//
// One difference from Google Benchmark's own file handling: with
// --benchmark_display_aggregates_only the file, like the console, gets only the aggregates.
class RunReporter final : public benchmark::BenchmarkReporter {
 public:
  // suite_start: when the run began (before the data loaded), for the suite's wall time.
  RunReporter(std::unique_ptr<benchmark::BenchmarkReporter> display, std::unique_ptr<benchmark::BenchmarkReporter> file,
              std::chrono::steady_clock::time_point suite_start = std::chrono::steady_clock::now());
  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

  [[nodiscard]] RunCounts counts() const;
  // Set at Finalize (the wall time up to then).
  [[nodiscard]] const SuiteTimes& suite_times() const { return suite_; }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> display_;
  // null without --benchmark_out; a ResultsFileReporter gets the suite's times in its context
  std::unique_ptr<benchmark::BenchmarkReporter> file_;
  RepetitionsByName repetitions_;
  std::chrono::steady_clock::time_point suite_start_;
  SuiteTimes suite_;
};

}  // namespace trainbench
