// IDX reader and Fashion-MNIST loading on files the tests write: good, truncated, corrupt,
// wrong magic, wrong dimensions and wrong item counts, damaged gzip members (cut trailer, bad
// CRC-32 or length, trailing garbage), gzip bombs, directories, FIFOs and devices, and
// dimensions whose product overflows.
// Each error names the file exactly once.
#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fixtures/dataset.h"
#include "fixtures/idx.h"
#include "tests/idx_samples.h"

namespace trainbench {
namespace {

namespace fs = std::filesystem;
using ::trainbench::idx_samples::Concat;
using ::trainbench::idx_samples::Gzip;
using ::trainbench::idx_samples::IdxBytes;

// Non-overlapping occurrences of needle in haystack.
int Occurrences(absl::string_view haystack, absl::string_view needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != absl::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("trainbench_idx_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes raw (uncompressed) header + data bytes through gzip, as a damaged file would look.
  void WriteRawGz(const std::string& path, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    gzclose(f);
  }

  // Writes bytes to path as they are (a gzip file built in memory, possibly damaged).
  void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << path;
  }

  // The error of reading bytes (written to a file named name) as a rank-1 IDX file; fails the
  // test when the read succeeds or the message does not name the file exactly once.
  std::string LabelsError(const std::string& name, const std::vector<uint8_t>& bytes) {
    WriteBytes(Path(name), bytes);
    absl::StatusOr<IdxArray> a = ReadIdxFile(Path(name), 1);
    if (a.ok()) {
      ADD_FAILURE() << name << ": accepted";
      return "";
    }
    EXPECT_EQ(Occurrences(a.status().message(), Path(name)), 1) << a.status();
    EXPECT_EQ(a.status().message().find('\n'), absl::string_view::npos) << a.status();
    return std::string(a.status().message());
  }

  fs::path dir_;
};

using ::trainbench::idx_samples::Ramp;

// A valid labels file (six labels) as one gzip member.
std::vector<uint8_t> GzLabels() { return Gzip(IdxBytes({6}, {0, 1, 2, 3, 4, 9})); }

TEST_F(IdxTest, ReadsBackWhatWasWritten) {
  const std::vector<uint8_t> data = Ramp(3 * 28 * 28);
  ASSERT_TRUE(WriteIdxFile(Path("img.gz"), {3, 28, 28}, data).ok());
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("img.gz"), 3, {28, 28}, 3);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->dims, (std::vector<int64_t>{3, 28, 28}));
  EXPECT_EQ(a->items(), 3);
  EXPECT_EQ(a->data, data);
}

TEST_F(IdxTest, MissingFileIsNotFoundAndNamed) {
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("nope.gz"), 1);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(a.status().message().find(Path("nope.gz")), std::string::npos);
}

TEST_F(IdxTest, WrongMagicIsRejected) {
  // Labels file (rank 1) read where images (rank 3) are expected.
  ASSERT_TRUE(WriteIdxFile(Path("labels.gz"), {4}, Ramp(4)).ok());
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("labels.gz"), 3, {28, 28});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("bad magic number 0x00000801, expected 0x00000803"), std::string::npos)
      << a.status();
  // A non-ubyte type code (0x0D = float) is rejected too.
  WriteRawGz(Path("float.gz"), {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_FALSE(ReadIdxFile(Path("float.gz"), 1).ok());
}

TEST_F(IdxTest, TruncatedDataIsDataLoss) {
  // Header promises 2 items of 28x28 but only 100 bytes follow.
  std::vector<uint8_t> bytes = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28};
  const std::vector<uint8_t> body = Ramp(100);
  bytes.insert(bytes.end(), body.begin(), body.end());
  WriteRawGz(Path("short.gz"), bytes);
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("short.gz"), 3, {28, 28});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(a.status().message().find("truncated: 100 of 1568 data bytes"), std::string::npos) << a.status();
}

TEST_F(IdxTest, TruncatedHeaderIsDataLoss) {
  WriteRawGz(Path("tiny.gz"), {0, 0, 8});
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("tiny.gz"), 1);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(IdxTest, CutGzipStreamIsDataLoss) {
  ASSERT_TRUE(WriteIdxFile(Path("full.gz"), {50, 28, 28}, Ramp(50 * 28 * 28)).ok());
  // Keep only the first half of the compressed bytes.
  std::ifstream in(Path("full.gz"), std::ios::binary);
  std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(Path("cut.gz"), std::ios::binary) << compressed.substr(0, compressed.size() / 2);
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("cut.gz"), 3, {28, 28});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << a.status();
  EXPECT_NE(a.status().message().find(Path("cut.gz")), std::string::npos);
}

TEST_F(IdxTest, TrailingBytesAreRejected) {
  std::vector<uint8_t> bytes = {0, 0, 8, 1, 0, 0, 0, 2, 5, 6, 7};
  WriteRawGz(Path("long.gz"), bytes);
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("long.gz"), 1);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("trailing bytes"), std::string::npos) << a.status();
}

TEST_F(IdxTest, CutGzipTrailerIsRejected) {
  // The last 8 bytes of a gzip member are its CRC-32 and length; zlib's gzread used to return
  // the data without them. Cutting 9 or 10 bytes also cuts the end of the deflate data.
  const std::vector<uint8_t> gz = GzLabels();
  for (size_t cut = 1; cut <= 10; ++cut) {
    SCOPED_TRACE(cut);
    const std::string name = "cut" + std::to_string(cut) + ".gz";
    const std::string message = LabelsError(name, {gz.begin(), gz.end() - cut});
    if (cut <= 8) {
      EXPECT_EQ(message, Path(name) + ": truncated gzip trailer");
    } else {
      EXPECT_NE(message.find(Path(name) + ": truncated gzip "), std::string::npos) << message;
    }
  }
}

TEST_F(IdxTest, TrailingGarbageAfterGzipIsRejected) {
  const std::vector<uint8_t> gz = GzLabels();
  EXPECT_EQ(LabelsError("junk.gz", Concat(gz, {'j', 'u', 'n', 'k'})),
            Path("junk.gz") + ": trailing garbage after gzip data (4 bytes)");
  EXPECT_EQ(LabelsError("zeros.gz", Concat(gz, std::vector<uint8_t>(512, 0))),
            Path("zeros.gz") + ": trailing garbage after gzip data (512 bytes)");
  // Half a gzip magic number is not a member.
  EXPECT_EQ(LabelsError("half_magic.gz", Concat(gz, {0x1f})),
            Path("half_magic.gz") + ": trailing garbage after gzip data (1 byte)");
}

TEST_F(IdxTest, BadGzipCrcOrLengthIsRejected) {
  // Trailer: CRC-32 at size-8, length mod 2^32 at size-4 (little-endian).
  std::vector<uint8_t> crc = GzLabels();
  crc[crc.size() - 8] ^= 0x01;
  EXPECT_EQ(LabelsError("crc.gz", crc), Path("crc.gz") + ": corrupt gzip data (CRC-32 mismatch)");
  std::vector<uint8_t> length = GzLabels();
  length[length.size() - 4] ^= 0x01;
  EXPECT_EQ(LabelsError("length.gz", length), Path("length.gz") + ": corrupt gzip data (length mismatch)");
}

TEST_F(IdxTest, InflatingStopsOneBytePastWhatTheHeaderHolds) {
  // A gzip bomb: a valid header and data, then a member of 16 MiB of zeros whose CRC-32 is
  // broken. Were the zeros inflated (into memory), the CRC-32 would be the error; reading stops
  // one byte past the 6 labels the header announces, and the error is that byte.
  std::vector<uint8_t> zeros = Gzip(std::vector<uint8_t>(size_t{16} << 20, 0));
  zeros[zeros.size() - 8] ^= 0x01;
  EXPECT_EQ(LabelsError("bomb.gz", Concat(GzLabels(), zeros)), Path("bomb.gz") + ": trailing bytes after 6 data bytes");
  // A wrong magic number stops it at the header too.
  std::vector<uint8_t> wrong = IdxBytes({6}, {0, 1, 2, 3, 4, 9});
  wrong[3] = 3;  // rank 3 where labels are rank 1
  EXPECT_EQ(LabelsError("magic_bomb.gz", Concat(Gzip(wrong), zeros)),
            Path("magic_bomb.gz") + ": bad magic number 0x00000803, expected 0x00000801");
}

TEST_F(IdxTest, AFifoADeviceOrALinkToOneIsNotARegularFile) {
  // A FIFO with no writer: open(2) would wait for one for ever without O_NONBLOCK.
  ASSERT_EQ(mkfifo(Path("fifo.gz").c_str(), 0600), 0);
  EXPECT_EQ(ReadIdxFile(Path("fifo.gz"), 1).status().message(), Path("fifo.gz") + ": not a regular file");
  fs::create_symlink(Path("fifo.gz"), Path("link.gz"));
  EXPECT_EQ(ReadIdxFile(Path("link.gz"), 1).status().message(), Path("link.gz") + ": not a regular file");
  EXPECT_EQ(ReadIdxFile("/dev/zero", 1).status().message(), "/dev/zero: not a regular file");
  // A link to a regular file reads as the file.
  WriteBytes(Path("labels.gz"), GzLabels());
  fs::create_symlink(Path("labels.gz"), Path("labels_link.gz"));
  EXPECT_TRUE(ReadIdxFile(Path("labels_link.gz"), 1).ok());
}

TEST_F(IdxTest, ConcatenatedGzipMembersAreOneFile) {
  // gzip(1) reads concatenated members as one stream; so does the reader, and it checks each.
  const std::vector<uint8_t> plain = IdxBytes({2, 28, 28}, Ramp(2 * 28 * 28));
  const absl::Span<const uint8_t> all(plain);
  const std::vector<uint8_t> two = Concat(Gzip(all.first(10)), Gzip(all.subspan(10)));
  WriteBytes(Path("two.gz"), two);
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("two.gz"), 3, {28, 28}, 2);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->data, Ramp(2 * 28 * 28));
  // An empty member in between changes nothing.
  WriteBytes(Path("three.gz"), Concat(Concat(Gzip(all.first(10)), Gzip({})), Gzip(all.subspan(10))));
  EXPECT_TRUE(ReadIdxFile(Path("three.gz"), 3, {28, 28}, 2).ok());

  std::vector<uint8_t> second_bad = two;
  second_bad[second_bad.size() - 8] ^= 0x80;
  WriteBytes(Path("second_bad.gz"), second_bad);
  absl::StatusOr<IdxArray> bad = ReadIdxFile(Path("second_bad.gz"), 3, {28, 28}, 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(bad.status().message(), Path("second_bad.gz") + ": corrupt gzip data in member 2 (CRC-32 mismatch)");
  const std::vector<uint8_t> second_cut(two.begin(), two.end() - 2);
  WriteBytes(Path("second_cut.gz"), second_cut);
  EXPECT_EQ(ReadIdxFile(Path("second_cut.gz"), 3).status().message(),
            Path("second_cut.gz") + ": truncated gzip trailer in member 2");
}

TEST_F(IdxTest, PlainIdxFilesStillRead) {
  // zlib's gzopen read uncompressed files as they are; the reader keeps doing that.
  WriteBytes(Path("plain.idx"), IdxBytes({3}, {7, 8, 9}));
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("plain.idx"), 1, {}, 3);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->data, (std::vector<uint8_t>{7, 8, 9}));
}

TEST_F(IdxTest, DirectoryIsNamedOnce) {
  fs::create_directories(Path("train-images-idx3-ubyte.gz"));
  absl::StatusOr<IdxArray> a = ReadIdxFile(Path("train-images-idx3-ubyte.gz"), 3);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.status().message(), Path("train-images-idx3-ubyte.gz") + ": is a directory");
}

TEST_F(IdxTest, DimensionsWhoseProductOverflowsAreRejected) {
  // 2^31 * 2^31 * 4 = 2^64 wraps to 0 in int64 arithmetic (undefined behaviour): unchecked,
  // this header with no data was read as an empty array of 2^64 bytes.
  WriteBytes(Path("wrap.idx"), IdxBytes({0x80000000u, 0x80000000u, 4}, {}));
  absl::StatusOr<IdxArray> wrap = ReadIdxFile(Path("wrap.idx"), 3);
  ASSERT_FALSE(wrap.ok());
  EXPECT_EQ(wrap.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrap.status().message(),
            Path("wrap.idx") + ": implausible size: dimensions 2147483648x2147483648x4 are over 2147483648 bytes");
  WriteBytes(Path("huge.gz"), Gzip(IdxBytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, {1, 2})));
  absl::StatusOr<IdxArray> huge = ReadIdxFile(Path("huge.gz"), 3);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("implausible size: dimensions 4294967295x"), std::string::npos)
      << huge.status();
  // Zero items is an empty array, not an error.
  WriteBytes(Path("empty.idx"), IdxBytes({0, 28, 28}, {}));
  absl::StatusOr<IdxArray> empty = ReadIdxFile(Path("empty.idx"), 3, {28, 28});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->items(), 0);
}

TEST_F(IdxTest, ParseIdxWorksOnBytesAndNamesNoFile) {
  // The fuzzer's entry point: the same checks on a byte buffer, the problem without a path.
  const std::vector<uint8_t> gz = GzLabels();
  absl::StatusOr<IdxArray> a = ParseIdx(gz, 1, {}, 6);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->data, (std::vector<uint8_t>{0, 1, 2, 3, 4, 9}));
  const std::vector<uint8_t> cut(gz.begin(), gz.end() - 1);
  EXPECT_EQ(ParseIdx(cut, 1).status().message(), "truncated gzip trailer");
  EXPECT_EQ(ParseIdx(std::vector<uint8_t>{0, 0, 8}, 1).status().message(), "truncated header (3 of 4 bytes)");
}

TEST_F(IdxTest, WrongItemCountAndDimensionsAreRejected) {
  ASSERT_TRUE(WriteIdxFile(Path("img.gz"), {2, 28, 28}, Ramp(2 * 28 * 28)).ok());
  absl::StatusOr<IdxArray> count = ReadIdxFile(Path("img.gz"), 3, {28, 28}, 60000);
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.status().message().find("2 items, expected 60000"), std::string::npos);
  absl::StatusOr<IdxArray> dims = ReadIdxFile(Path("img.gz"), 3, {32, 32});
  ASSERT_FALSE(dims.ok());
  EXPECT_NE(dims.status().message().find("item dimensions 28x28, expected 32x32"), std::string::npos);
}

TEST_F(IdxTest, FashionMnistLoaderNamesTheBadFile) {
  // A directory holding only a too-short training image file: the error names that file.
  ASSERT_TRUE(WriteIdxFile(Path("train-images-idx3-ubyte.gz"), {10, 28, 28}, Ramp(10 * 784)).ok());
  absl::StatusOr<FashionMnist> d = LoadFashionMnist(dir_.string(), 0);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("train-images-idx3-ubyte.gz: 10 items, expected 60000"), std::string::npos)
      << d.status();
  absl::StatusOr<FashionMnist> too_many = LoadFashionMnist(dir_.string(), 70000);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("--samples=70000"), std::string::npos);
}

}  // namespace
}  // namespace trainbench
