#include "tests/idx_samples.h"

#include <zlib.h>

#include <cstdio>
#include <cstdlib>

namespace trainbench::idx_samples {

std::vector<uint8_t> IdxBytes(const std::vector<uint32_t>& dims, absl::Span<const uint8_t> data) {
  std::vector<uint8_t> out = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> Gzip(absl::Span<const uint8_t> plain) {
  z_stream zs{};
  // 16 + MAX_WBITS: zlib writes the gzip header and the CRC-32 / length trailer itself.
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    std::fprintf(stderr, "Gzip: deflateInit2 failed\n");
    std::abort();
  }
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(plain.size())));
  zs.next_in = const_cast<Bytef*>(plain.data());
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  // deflateBound makes the output room enough for one Z_FINISH call.
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
    std::fprintf(stderr, "Gzip: deflate did not finish\n");
    std::abort();
  }
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::vector<uint8_t> Ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7);
  return v;
}

std::vector<uint8_t> Concat(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b) {
  std::vector<uint8_t> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

std::vector<Sample> CorpusSamples() {
  const std::vector<uint8_t> labels = IdxBytes({6}, {0, 1, 2, 3, 4, 9});
  const std::vector<uint8_t> images = IdxBytes({2, 28, 28}, Ramp(2 * 28 * 28));
  const std::vector<uint8_t> gz_labels = Gzip(labels);
  const std::vector<uint8_t> gz_images = Gzip(images);
  std::vector<Sample> s;
  s.push_back({"labels.gz", gz_labels});
  s.push_back({"images.gz", gz_images});
  s.push_back({"labels_plain.idx", labels});
  s.push_back({"images_plain.idx", images});
  // Two members: the image header in one, the pixels in the next.
  s.push_back({"images_two_members.gz",
               Concat(Gzip(absl::MakeConstSpan(images).first(16)), Gzip(absl::MakeConstSpan(images).subspan(16)))});
  // The gzip trailer is the last 8 bytes: CRC-32 then the length, both little-endian.
  s.push_back({"labels_cut_trailer.gz", {gz_labels.begin(), gz_labels.end() - 3}});
  s.push_back({"images_cut_stream.gz", {gz_images.begin(), gz_images.begin() + gz_images.size() / 2}});
  s.push_back({"labels_garbage.gz", Concat(gz_labels, {'j', 'u', 'n', 'k'})});
  std::vector<uint8_t> bad_crc = gz_labels;
  bad_crc[bad_crc.size() - 8] ^= 0x01;
  s.push_back({"labels_bad_crc.gz", bad_crc});
  std::vector<uint8_t> bad_length = gz_labels;
  bad_length[bad_length.size() - 4] ^= 0x01;
  s.push_back({"labels_bad_length.gz", bad_length});
  s.push_back({"float_magic.idx", {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0}});
  // 2^31 * 2^31 * 4 = 2^64: wraps to 0 in unchecked 64-bit arithmetic.
  s.push_back({"dims_overflow.idx", IdxBytes({0x80000000u, 0x80000000u, 4}, {})});
  s.push_back({"dims_huge.gz", Gzip(IdxBytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, {}))});
  return s;
}

}  // namespace trainbench::idx_samples
