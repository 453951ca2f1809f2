// bench/harness/reporter.h: the file after every benchmark is what Google Benchmark's
// JSONReporter writes for the runs so far, closed; counts; --benchmark_out taken over.
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "bench/harness/reporter.h"
#include "bench/harness/results_file.h"
#include "tests/temp_dir.h"

namespace trainbench {
namespace {

// writes for the runs so far, closed.

benchmark::BenchmarkReporter::Run MakeRun(const std::string& name, double seconds, bool error = false) {
  benchmark::BenchmarkReporter::Run r;
  r.run_name.function_name = name;
  r.family_index = 0;
  r.per_family_instance_index = 0;
  r.repetitions = 1;
  r.repetition_index = 0;
  r.iterations = 1;
  r.time_unit = benchmark::kSecond;
  r.real_accumulated_time = seconds;
  r.cpu_accumulated_time = seconds;
  r.counters["samples_per_second"] = benchmark::Counter(100.0 / seconds);
  if (error) {
    r.error_occurred = true;
    r.error_message = "not run: interrupted by SIGINT";
  }
  return r;
}

// JSONReporter's own output for the context and runs, with the context's date (a clock
// reading) taken out.
std::string LibraryJson(const std::vector<std::vector<benchmark::BenchmarkReporter::Run>>& groups) {
  std::ostringstream out;
  benchmark::JSONReporter json;
  json.SetOutputStream(&out);
  json.SetErrorStream(&out);
  benchmark::BenchmarkReporter::Context context;
  json.ReportContext(context);
  for (const auto& g : groups) json.ReportRuns(g);
  json.Finalize();
  return out.str();
}

std::string WithoutDate(const std::string& json) {
  std::istringstream in(json);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (!absl::StrContains(line, "\"date\":")) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

TEST(ReporterTest, TheFileIsCompleteAfterTheContextAndAfterEveryBenchmark) {
  TempDir dir;
  const std::string path = dir.path() + "/run.json";
  absl::StatusOr<ResultsFile> f = ResultsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<absl::Status> errors;
  ResultsFileReporter reporter(*std::move(f), "json", [&](const absl::Status& s) { errors.push_back(s); });
  benchmark::BenchmarkReporter::Context context;
  ASSERT_TRUE(reporter.ReportContext(context));
  EXPECT_EQ(WithoutDate(ReadAll(path)), WithoutDate(LibraryJson({})));
  const std::vector<benchmark::BenchmarkReporter::Run> a = {MakeRun("BM_A", 1.0)};
  const std::vector<benchmark::BenchmarkReporter::Run> b = {MakeRun("BM_B", 2.0, /*error=*/true)};
  reporter.ReportRuns(a);
  EXPECT_EQ(WithoutDate(ReadAll(path)), WithoutDate(LibraryJson({a})));
  reporter.ReportRuns(b);
  EXPECT_EQ(WithoutDate(ReadAll(path)), WithoutDate(LibraryJson({a, b})));
  reporter.Finalize();
  EXPECT_EQ(WithoutDate(ReadAll(path)), WithoutDate(LibraryJson({a, b})));
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{"run.json"});
}

TEST(ReporterTest, AFailedWriteIsReportedAndTheLastCompleteFileStays) {
  absl::StatusOr<ResultsFile> f = ResultsFile::Open("/dev/full");
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<std::string> errors;
  ResultsFileReporter reporter(*std::move(f), "json", [&](const absl::Status& s) { errors.emplace_back(s.message()); });
  benchmark::BenchmarkReporter::Context context;
  reporter.ReportContext(context);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "/dev/full: write failed: No space left on device");
}

// A JSON display reporter that writes into sink, not the test's stdout.
std::unique_ptr<benchmark::BenchmarkReporter> JsonInto(std::ostringstream& sink) {
  auto display = std::make_unique<benchmark::JSONReporter>();
  display->SetOutputStream(&sink);
  display->SetErrorStream(&sink);
  return display;
}

TEST(ReporterTest, CountsOutcomesOncePerBenchmark) {
  std::ostringstream sink;
  RunReporter counted(JsonInto(sink), nullptr);
  auto interrupted = MakeRun("BM_B", 1.0, true);
  interrupted.error_message = "interrupted by SIGTERM";
  auto skipped = MakeRun("BM_D", 1.0, true);
  skipped.error_message = "needs about 171.3 GiB, 21.9 GiB available";
  counted.ReportRuns({MakeRun("BM_A", 1.0), MakeRun("BM_A", 1.1)});  // two repetitions
  counted.ReportRuns({interrupted});
  counted.ReportRuns({MakeRun("BM_C", 1.0, true)});
  counted.ReportRuns({skipped});
  const RunCounts c = counted.counts();
  EXPECT_EQ(c.finished, 1);
  EXPECT_EQ(c.interrupted, 1);
  EXPECT_EQ(c.not_run, 1);
  EXPECT_EQ(c.skipped, 1);
  EXPECT_EQ(c.total(), 4);
}

TEST(ReporterTest, TheConsoleHeaderShortensLongJsonEntriesOnly) {
  const std::string json = "{\"axes\": [" + std::string(400, 'x') + "]}";
  const std::string header =
      "Run on (2 X 2300 MHz CPU s)\nadam: fused\naxes: " + json + "\nsmall: {\"a\": 1}\ntest_samples: 10000\n";
  EXPECT_EQ(ShortenJsonContextLines(header),
            absl::StrCat("Run on (2 X 2300 MHz CPU s)\nadam: fused\naxes: JSON, ", json.size(),
                         " bytes (whole in the JSON output)\nsmall: {\"a\": 1}\ntest_samples: 10000\n"));
  EXPECT_EQ(ShortenJsonContextLines("no newline at the end"), "no newline at the end");
}

TEST(ReporterTest, TheConsoleDisplayGetsTheShortHeaderAndTheFileTheWholeContext) {
  const std::string json = "{\"counters\": [" + std::string(300, 'y') + "]}";
  benchmark::AddCustomContext("reporter_test_declaration", json);
  std::ostringstream console_out, console_err, file_out;
  auto display = std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
  display->SetOutputStream(&console_out);
  display->SetErrorStream(&console_err);
  auto file = std::make_unique<benchmark::JSONReporter>();
  file->SetOutputStream(&file_out);
  file->SetErrorStream(&file_out);
  RunReporter reporter(std::move(display), std::move(file));
  ASSERT_TRUE(reporter.ReportContext(benchmark::BenchmarkReporter::Context()));
  EXPECT_TRUE(
      absl::StrContains(console_err.str(), absl::StrCat("reporter_test_declaration: JSON, ", json.size(), " bytes")))
      << console_err.str();
  EXPECT_FALSE(absl::StrContains(console_err.str(), json));
  EXPECT_TRUE(absl::StrContains(file_out.str(), "\"reporter_test_declaration\": \"{\\\"counters\\\": ["))
      << file_out.str();
}

// What Google Benchmark 1.7.1 reports for 4 repetitions of 2 iterations each, the last 2
// stopped: the 4 runs and a mean over the 2 that finished, whose iterations count all 4 and
// whose accumulated time is scaled by 4 / 2 (statistics.cc).
std::vector<benchmark::BenchmarkReporter::Run> TwoOfFourRepetitions() {
  std::vector<benchmark::BenchmarkReporter::Run> runs;
  for (int i = 0; i < 4; ++i) {
    benchmark::BenchmarkReporter::Run r = MakeRun("BM_R", i == 0 ? 2.0 : 2.4, /*error=*/i >= 2);
    r.repetitions = 4;
    r.repetition_index = i;
    r.iterations = 2;
    runs.push_back(r);
  }
  benchmark::BenchmarkReporter::Run mean = runs[0];
  mean.run_type = benchmark::BenchmarkReporter::Run::RT_Aggregate;
  mean.aggregate_name = "mean";
  mean.aggregate_unit = benchmark::StatisticUnit::kTime;
  mean.iterations = 4;
  mean.real_accumulated_time = 2.2 * 4 / 2;
  mean.cpu_accumulated_time = 2.2 * 4 / 2;
  benchmark::BenchmarkReporter::Run cv = mean;
  cv.aggregate_name = "cv";
  cv.aggregate_unit = benchmark::StatisticUnit::kPercentage;
  cv.real_accumulated_time = 0.128;
  cv.cpu_accumulated_time = 0.128;
  runs.push_back(mean);
  runs.push_back(cv);
  return runs;
}

TEST(ReporterTest, AnAggregateCountsTheRepetitionsItWasComputedFrom) {
  const auto runs = TwoOfFourRepetitions();
  RepetitionsByName counts;
  CountRepetitions(runs, counts);
  EXPECT_EQ(counts["BM_R"].reported, 4);
  EXPECT_EQ(counts["BM_R"].finished, 2);
  EXPECT_EQ(counts["BM_R"].first_error, "not run: interrupted by SIGINT");
  const auto fixed = AggregatesOverFinishedRepetitions(runs, counts);
  ASSERT_EQ(fixed.size(), runs.size());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(fixed[i].iterations, 2);
  const auto& mean = fixed[4];
  EXPECT_EQ(mean.iterations, 2);
  // The printed time (accumulated / iterations) is the mean iteration time either way: 1.1 s.
  EXPECT_DOUBLE_EQ(mean.GetAdjustedRealTime(), runs[4].GetAdjustedRealTime());
  EXPECT_DOUBLE_EQ(mean.GetAdjustedRealTime(), 1.1);
  EXPECT_DOUBLE_EQ(mean.GetAdjustedCPUTime(), 1.1);
  EXPECT_EQ(fixed[5].iterations, 2);
  EXPECT_DOUBLE_EQ(fixed[5].real_accumulated_time, 0.128);  // a percentage is not divided
  // Nothing errored: unchanged.
  auto all_finished = runs;
  for (auto& r : all_finished) r.error_occurred = false;
  RepetitionsByName all_counts;
  CountRepetitions(all_finished, all_counts);
  EXPECT_EQ(AggregatesOverFinishedRepetitions(all_finished, all_counts)[4].iterations, 4);
}

TEST(ReporterTest, RepetitionsCutShortCountAsInterruptedWithTheFinishedOnesKept) {
  std::ostringstream sink;
  RunReporter counted(JsonInto(sink), nullptr);
  // As Google Benchmark reports them: the repetitions, then the aggregates on their own.
  const auto runs = TwoOfFourRepetitions();
  counted.ReportRuns({runs.begin(), runs.begin() + 4});
  counted.ReportRuns({runs.begin() + 4, runs.end()});
  counted.ReportRuns({MakeRun("BM_S", 1.0, true)});
  const RunCounts c = counted.counts();
  EXPECT_EQ(c.finished, 0);
  EXPECT_EQ(c.interrupted, 1);
  EXPECT_EQ(c.not_run, 1);
  EXPECT_EQ(c.kept_repetitions, 2);
  // The aggregate the reporters got says 2.
  EXPECT_TRUE(absl::StrContains(sink.str(), "\"iterations\": 2,")) << sink.str();
  EXPECT_FALSE(absl::StrContains(sink.str(), "\"iterations\": 4,")) << sink.str();
}

TEST(ReporterTest, TakeBenchmarkOutRemovesTheFlagAndForcesItEmptyForTheLibrary) {
  ::unsetenv("BENCHMARK_OUT");
  ::unsetenv("BENCHMARK_OUT_FORMAT");
  std::vector<std::string> given = {"trainbench", "--benchmark_out=a.json", "--batch=16", "--benchmark_out_format=csv",
                                    "--benchmark_out=b.json"};
  std::vector<char*> argv;
  for (std::string& s : given) argv.push_back(s.data());
  argv.resize(given.size() + 2, nullptr);
  int argc = static_cast<int>(given.size());
  const BenchmarkOut out = TakeBenchmarkOut(&argc, argv.data());
  EXPECT_EQ(out.path, "b.json");  // the last one, as Google Benchmark reads it
  EXPECT_EQ(out.format, "csv");
  ASSERT_EQ(argc, 4);
  EXPECT_STREQ(argv[1], "--batch=16");
  EXPECT_STREQ(argv[2], "--benchmark_out_format=csv");  // left for the library to validate
  EXPECT_STREQ(argv[3], "--benchmark_out=");
  EXPECT_EQ(argv[4], nullptr);
}

}  // namespace
}  // namespace trainbench

namespace trainbench {
namespace {

TEST(ReporterTest, TheConsoleDropsTheSamplesLabelAndKeepsAnyOther) {
  benchmark::BenchmarkReporter::Run sampled;
  sampled.report_label = "samples_s=1,1.1,0.9";
  benchmark::BenchmarkReporter::Run labelled;
  labelled.report_label = "a user's label";
  const auto shown = WithoutSamplesLabels({sampled, labelled});
  ASSERT_EQ(shown.size(), 2u);
  EXPECT_EQ(shown[0].report_label, "");
  EXPECT_EQ(shown[1].report_label, "a user's label");
}

}  // namespace
}  // namespace trainbench

namespace trainbench {
namespace {

TEST(ReporterTest, TheSuitesTimesGoAtTheEndOfTheContextAndIntoOneLine) {
  const std::string json =
      "{\n  \"context\": {\n    \"date\": \"x\",\n    \"library_build_type\": \"release\"\n  },\n  \"benchmarks\": [\n"
      "  ]\n}\n";
  const SuiteTimes t{151.04, 40.26};
  const std::string with = WithContextEntries(json, SuiteContext(t));
  EXPECT_TRUE(absl::StrContains(
      with,
      "\"library_build_type\": \"release\",\n    \"suite_wall_s\": \"151.0\",\n    \"suite_timed_s\": \"40.3\"\n  },"))
      << with;
  EXPECT_EQ(WithContextEntries("not a results file", SuiteContext(t)), "not a results file");
  EXPECT_EQ(SuiteLine(t), "suite: 151 s, 40 s timed (27%)");
}

TEST(ReporterTest, ARowThatTookItsSamplesInOneIterationCountsThemAllAsTimed) {
  benchmark::BenchmarkReporter::Run plain;
  plain.iterations = 2;
  plain.real_accumulated_time = 3.0;  // two epochs, 1.5 s each
  EXPECT_DOUBLE_EQ(TimedSeconds(plain), 3.0);
  benchmark::BenchmarkReporter::Run sampled = plain;
  sampled.iterations = 1;
  sampled.real_accumulated_time = 1.5;  // the mean of 4 epochs
  sampled.counters["noise_samples"] = 4;
  sampled.counters["noise_met"] = 1;
  EXPECT_DOUBLE_EQ(TimedSeconds(sampled), 6.0);
  sampled.counters["sample_iterations"] = 10;  // each sample 10 iterations, its time per iteration
  EXPECT_DOUBLE_EQ(TimedSeconds(sampled), 60.0);
  benchmark::BenchmarkReporter::Run failed = plain;
  failed.error_occurred = true;
  EXPECT_EQ(TimedSeconds(failed), 0.0);
}

}  // namespace
}  // namespace trainbench
