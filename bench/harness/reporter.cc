#include "bench/harness/reporter.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/json.h"
#include "absl/strings/str_format.h"
#include "bench/families/sampling.h"
#include "bench/harness/interrupt.h"

namespace trainbench {
namespace {

constexpr char kOutFlag[] = "--benchmark_out=";
constexpr char kOutFormatFlag[] = "--benchmark_out_format=";
constexpr char kFormatFlag[] = "--benchmark_format=";

std::unique_ptr<benchmark::BenchmarkReporter> MakeFormatReporter(const std::string& format) {
  if (format == "csv") {
    BENCHMARK_DISABLE_DEPRECATED_WARNING
    return std::make_unique<benchmark::CSVReporter>();
    BENCHMARK_RESTORE_DEPRECATED_WARNING
  }
  if (format == "console") {
    return std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
  }
  return std::make_unique<benchmark::JSONReporter>();  // "json" (CheckFormats took the rest)
}

}  // namespace

void CountRepetitions(const std::vector<benchmark::BenchmarkReporter::Run>& runs, RepetitionsByName& counts) {
  for (const benchmark::BenchmarkReporter::Run& run : runs) {
    RepetitionCounts& c = counts[run.run_name.str()];
    // With --benchmark_*_aggregates_only the aggregates may come alone: the benchmark is
    // then counted (as finished), its repetitions unknown.
    if (run.run_type != benchmark::BenchmarkReporter::Run::RT_Iteration) continue;
    ++c.reported;
    if (!run.error_occurred) {
      ++c.finished;
    } else if (c.first_error.empty()) {
      c.first_error = run.error_message.empty() ? "error" : run.error_message;
    }
  }
}

std::vector<benchmark::BenchmarkReporter::Run> AggregatesOverFinishedRepetitions(
    const std::vector<benchmark::BenchmarkReporter::Run>& runs, const RepetitionsByName& counts) {
  using Run = benchmark::BenchmarkReporter::Run;
  std::vector<Run> out = runs;
  for (Run& run : out) {
    if (run.run_type != Run::RT_Aggregate) continue;
    const auto it = counts.find(run.run_name.str());
    if (it == counts.end()) continue;
    const int64_t n = it->second.reported;
    const int64_t k = it->second.finished;
    if (n == 0 || k == n || run.iterations != n) continue;
    // A time aggregate is printed as accumulated time / iterations; the accumulated time was
    // scaled for n, so it is scaled to k with the count, and the printed time stays the same.
    if (run.aggregate_unit == benchmark::StatisticUnit::kTime) {
      run.real_accumulated_time *= static_cast<double>(k) / static_cast<double>(n);
      run.cpu_accumulated_time *= static_cast<double>(k) / static_cast<double>(n);
    }
    run.iterations = k;
  }
  return out;
}

std::string ShortenJsonContextLines(const std::string& header) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(header, '\n')) {
    const size_t colon = line.find(": {");
    if (colon != absl::string_view::npos && line.size() > kLongContextLineChars) {
      absl::StrAppend(&out, line.substr(0, colon), ": JSON, ", line.size() - colon - 2,
                      " bytes (whole in the JSON output)\n");
    } else {
      absl::StrAppend(&out, line, "\n");
    }
  }
  out.pop_back();  // StrSplit gives one piece more than there are newlines
  return out;
}

absl::Status CheckFormats(const BenchmarkOut& out) {
  const auto check = [](const char* flag, const std::string& value) {
    if (value == "json" || value == "csv" || value == "console") return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(flag, value, ": not json, csv or console"));
  };
  if (absl::Status s = check(kOutFormatFlag, out.format); !s.ok()) return s;
  return check(kFormatFlag, out.display_format);
}

BenchmarkOut TakeBenchmarkOut(int* argc, char** argv) {
  BenchmarkOut out;
  if (const char* env = std::getenv("BENCHMARK_OUT")) out.path = env;
  if (const char* env = std::getenv("BENCHMARK_OUT_FORMAT")) out.format = env;
  if (const char* env = std::getenv("BENCHMARK_FORMAT")) out.display_format = env;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    if (absl::StartsWith(argv[i], kOutFlag)) {
      out.path = argv[i] + std::strlen(kOutFlag);
      continue;
    }
    if (absl::StartsWith(argv[i], kOutFormatFlag)) out.format = argv[i] + std::strlen(kOutFormatFlag);
    if (absl::StartsWith(argv[i], kFormatFlag)) out.display_format = argv[i] + std::strlen(kFormatFlag);
    argv[kept++] = argv[i];
  }
  static char empty_out[] = "--benchmark_out=";
  argv[kept++] = empty_out;
  argv[kept] = nullptr;
  *argc = kept;
  return out;
}

ResultsFileReporter::ResultsFileReporter(ResultsFile file, const std::string& format,
                                         std::function<void(const absl::Status&)> on_error)
    : file_(std::move(file)),
      format_(MakeFormatReporter(format)),
      on_error_(std::move(on_error)),
      json_(format == "json") {
  // Google Benchmark's file reporters write their context to the error stream too.
  format_->SetOutputStream(&body_);
  format_->SetErrorStream(&body_);
}

bool ResultsFileReporter::ReportContext(const Context& context) {
  const bool ok = format_->ReportContext(context);
  Publish(/*final=*/false);
  return ok;
}

void ResultsFileReporter::ReportRuns(const std::vector<Run>& runs) {
  format_->ReportRuns(runs);
  Publish(/*final=*/false);
}

void ResultsFileReporter::Finalize() { Publish(/*final=*/true); }

void ResultsFileReporter::Publish(bool final) {
  // The reporter's own Finalize text closes the document (JSON: the benchmark list and the
  // top-level object). It writes only that and keeps no state, so it is rendered into a
  // scratch stream for every intermediate file, and into the body once at the end.
  std::ostringstream tail;
  format_->SetOutputStream(final ? static_cast<std::ostream*>(&body_) : &tail);
  format_->Finalize();
  format_->SetOutputStream(&body_);
  const std::string body = final && json_ ? WithContextEntries(body_.str(), final_context_) : body_.str();
  const absl::Status s = file_.Write(body, tail.str(), final);
  if (!s.ok()) on_error_(s);
}

std::string WithContextEntries(const std::string& json,
                               const std::vector<std::pair<std::string, std::string>>& entries) {
  // Google Benchmark's JSONReporter (1.7.1) closes the context with this, once.
  static constexpr char kContextEnd[] = "\n  },\n  \"benchmarks\": [";
  const size_t at = json.find(kContextEnd);
  if (at == std::string::npos || entries.empty()) return json;
  std::string added;
  for (const auto& [key, value] : entries) absl::StrAppend(&added, ",\n    ", JsonString(key), ": ", JsonString(value));
  return absl::StrCat(absl::string_view(json).substr(0, at), added, absl::string_view(json).substr(at));
}

double TimedSeconds(const benchmark::BenchmarkReporter::Run& run) {
  if (run.error_occurred || run.run_type != benchmark::BenchmarkReporter::Run::RT_Iteration) return 0;
  const auto samples = run.counters.find("noise_samples");
  if (run.counters.count("noise_met") > 0 && samples != run.counters.end() && run.iterations > 0) {
    const auto spans = run.counters.find("sample_iterations");
    const double iterations_per_sample = spans != run.counters.end() ? spans->second.value : 1.0;
    return run.real_accumulated_time / static_cast<double>(run.iterations) * samples->second.value *
           iterations_per_sample;
  }
  return run.real_accumulated_time;
}

std::string SuiteLine(const SuiteTimes& t) {
  const double pct = t.wall_seconds > 0 ? 100.0 * t.timed_seconds / t.wall_seconds : 0.0;
  return absl::StrFormat("suite: %.0f s, %.0f s timed (%.0f%%)", t.wall_seconds, t.timed_seconds, pct);
}

std::vector<std::pair<std::string, std::string>> SuiteContext(const SuiteTimes& t) {
  return {{"suite_wall_s", absl::StrFormat("%.1f", t.wall_seconds)},
          {"suite_timed_s", absl::StrFormat("%.1f", t.timed_seconds)}};
}

RunReporter::RunReporter(std::unique_ptr<benchmark::BenchmarkReporter> display,
                         std::unique_ptr<benchmark::BenchmarkReporter> file,
                         std::chrono::steady_clock::time_point suite_start)
    : display_(std::move(display)), file_(std::move(file)), suite_start_(suite_start) {}

bool RunReporter::ReportContext(const Context& context) {
  // The file first: a results file that cannot be written (/dev/full) is then the run's only
  // line on stderr, before the console's context header.
  if (file_ && !file_->ReportContext(context)) return false;
  auto* console = dynamic_cast<benchmark::ConsoleReporter*>(display_.get());
  if (console == nullptr) return display_->ReportContext(context);  // JSON or CSV on stdout: all of it
  // The console reporter prints its context header to its error stream.
  std::ostream& err = console->GetErrorStream();
  std::ostringstream header;
  console->SetErrorStream(&header);
  const bool ok = console->ReportContext(context);
  console->SetErrorStream(&err);
  err << ShortenJsonContextLines(header.str()) << std::flush;
  return ok;
}

std::vector<benchmark::BenchmarkReporter::Run> WithoutSamplesLabels(
    const std::vector<benchmark::BenchmarkReporter::Run>& runs) {
  std::vector<benchmark::BenchmarkReporter::Run> out = runs;
  for (auto& run : out) {
    if (absl::StartsWith(run.report_label, kSamplesLabelPrefix)) run.report_label.clear();
  }
  return out;
}

void RunReporter::ReportRuns(const std::vector<Run>& reported) {
  // Google Benchmark reports a benchmark's repetitions, then (in a call of their own) its
  // aggregates.
  CountRepetitions(reported, repetitions_);
  const std::vector<Run> runs = AggregatesOverFinishedRepetitions(reported, repetitions_);
  for (const Run& run : runs) suite_.timed_seconds += TimedSeconds(run);
  display_->ReportRuns(WithoutSamplesLabels(runs));
  if (file_) file_->ReportRuns(runs);
}

void RunReporter::Finalize() {
  suite_.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - suite_start_).count();
  display_->Finalize();
  if (file_) {
    if (auto* results = dynamic_cast<ResultsFileReporter*>(file_.get())) results->AddFinalContext(SuiteContext(suite_));
    file_->Finalize();
  }
}

RunCounts RunReporter::counts() const {
  RunCounts c;
  for (const auto& [name, outcome] : repetitions_) {
    const std::string& error = outcome.first_error;
    const bool stopped = absl::StartsWith(error, kNotRunPrefix) || absl::StartsWith(error, kInterruptedPrefix);
    if (error.empty()) {
      ++c.finished;
    } else if (stopped && outcome.finished > 0) {
      // Repetitions cut short: the finished ones are in the results.
      ++c.interrupted;
      c.kept_repetitions += outcome.finished;
    } else if (absl::StartsWith(error, kNotRunPrefix)) {
      ++c.not_run;
    } else if (absl::StartsWith(error, kInterruptedPrefix)) {
      ++c.interrupted;
    } else {
      ++c.skipped;
    }
  }
  return c;
}

}  // namespace trainbench
