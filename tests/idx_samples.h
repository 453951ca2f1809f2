// Small IDX files as bytes, good and damaged, for the IDX reader's tests and the fuzzer's seed
// corpus (tests/fuzz/make_corpus.cc writes them; nothing binary is committed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace trainbench::idx_samples {

// A plain (uncompressed) IDX ubyte file: magic 0x000008<rank>, big-endian 32-bit dimensions,
// then the data bytes as given (which need not match the dimensions: for broken files).
std::vector<uint8_t> IdxBytes(const std::vector<uint32_t>& dims, absl::Span<const uint8_t> data);

// One gzip member holding plain, written by zlib (deflate with a gzip wrapper).
std::vector<uint8_t> Gzip(absl::Span<const uint8_t> plain);

// n bytes 0, 7, 14, ... (mod 256): data that compresses but is not constant.
std::vector<uint8_t> Ramp(size_t n);

// a followed by b.
std::vector<uint8_t> Concat(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b);

// A named sample file for the seed corpus.
struct Sample {
  std::string name;
  std::vector<uint8_t> bytes;
};

// Valid files (labels, images, plain, two gzip members) and broken ones (cut trailer, cut
// stream, trailing garbage, bad CRC-32, bad length, wrong magic, dimensions that overflow).
std::vector<Sample> CorpusSamples();

}  // namespace trainbench::idx_samples
