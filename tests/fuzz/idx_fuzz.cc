// libFuzzer target for the IDX/gzip reader (fixtures/idx.h ParseIdx): any bytes, taken as a
// file's contents, must give either an array whose data size is the product of its dimensions
// or an error of one line, with no crash, hang, leak, out-of-bounds access or undefined
// behaviour. Built with -fsanitize=fuzzer,address,undefined (CMake option TRAINBENCH_FUZZ);
// the seed corpus (tests/idx_samples.h) is written by the build into idx_fuzz_corpus/.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fixtures/idx.h"

namespace {

// A broken invariant is a finding: abort, so libFuzzer saves the input.
void Require(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "idx_fuzz: %s\n", what);
    std::abort();
  }
}

void ParseAndCheck(absl::Span<const uint8_t> bytes, int rank) {
  absl::StatusOr<trainbench::IdxArray> a = trainbench::ParseIdx(bytes, rank);
  if (!a.ok()) {
    Require(!a.status().message().empty(), "empty error message");
    Require(a.status().message().find('\n') == absl::string_view::npos, "error message of more than one line");
    return;
  }
  Require(a->dims.size() == static_cast<size_t>(rank), "wrong number of dimensions");
  // 128-bit: a zero dimension after two of 2^32 - 1 still makes a valid, empty array.
  unsigned __int128 bytes_expected = 1;
  for (const int64_t d : a->dims) {
    Require(d >= 0, "negative dimension");
    bytes_expected *= static_cast<unsigned __int128>(d);
  }
  Require(bytes_expected <= static_cast<unsigned __int128>(trainbench::kMaxIdxDataBytes),
          "data over kMaxIdxDataBytes accepted");
  Require(bytes_expected == a->data.size(), "data size is not the product of the dimensions");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> bytes(data, size);
  ParseAndCheck(bytes, 1);  // labels
  ParseAndCheck(bytes, 3);  // images
  return 0;
}
