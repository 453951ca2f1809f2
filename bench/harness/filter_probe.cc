#include "bench/harness/filter_probe.h"

#include "absl/strings/str_cat.h"
#include "bench/harness/flags.h"
#include "common/first_line.h"

namespace trainbench {

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
  Fail(absl::StrCat("--benchmark_filter=", filter, ": matches no benchmark (--benchmark_list_tests lists them)"));
}

}  // namespace trainbench
