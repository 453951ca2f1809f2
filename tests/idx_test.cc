// IDX reader and Fashion-MNIST loading on files the tests write: good, truncated, corrupt,
// wrong magic, wrong dimensions and wrong item counts. Each error names the file.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures/dataset.h"
#include "fixtures/idx.h"

namespace trainbench {
namespace {

namespace fs = std::filesystem;

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

  fs::path dir_;
};

std::vector<uint8_t> Ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7);
  return v;
}

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
  EXPECT_NE(a.status().message().find("bad magic number 0x00000801, expected 0x00000803"),
            std::string::npos)
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
  EXPECT_NE(a.status().message().find("truncated: 100 of 1568 data bytes"), std::string::npos)
      << a.status();
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
  EXPECT_NE(d.status().message().find("train-images-idx3-ubyte.gz: 10 items, expected 60000"),
            std::string::npos)
      << d.status();
  absl::StatusOr<FashionMnist> too_many = LoadFashionMnist(dir_.string(), 70000);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("--samples=70000"), std::string::npos);
}

TEST(FashionMnistTest, RealFilesLoadWhenInstalled) {
  const std::string dir = DefaultFashionMnistDir();
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed at " << dir << " (package dataset-fashion-mnist)";
  }
  absl::StatusOr<FashionMnist> d = LoadFashionMnist(dir, 500);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->train.count, 500);
  EXPECT_EQ(d->train.pixels.size(), 500u * kImagePixels);
  EXPECT_EQ(d->test.count, kFashionTestItems);
  // Every class appears in the test set, in about equal numbers (1000 each).
  std::vector<int> per_class(kNumClasses, 0);
  for (uint8_t l : d->test.labels) ++per_class[l];
  for (int c : per_class) EXPECT_EQ(c, 1000);
}

TEST(FashionMnistTest, SyntheticHasTheRealShapes) {
  FashionMnist d = MakeSyntheticFashionMnist(300, 100, 7);
  EXPECT_EQ(d.train.count, 300);
  EXPECT_EQ(d.train.pixels.size(), 300u * kImagePixels);
  EXPECT_EQ(d.test.labels.size(), 100u);
  for (uint8_t l : d.train.labels) ASSERT_LT(l, kNumClasses);
  EXPECT_EQ(d.source, "synthetic");
  // Same seed, same data; another seed, other data.
  EXPECT_EQ(MakeSyntheticFashionMnist(300, 100, 7).train.pixels, d.train.pixels);
  EXPECT_NE(MakeSyntheticFashionMnist(300, 100, 8).train.pixels, d.train.pixels);
}

}  // namespace
}  // namespace trainbench
