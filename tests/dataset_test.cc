// fixtures/dataset.cc: the real Fashion-MNIST files load with every class in the test set,
// and the synthetic data set has the real shapes and follows its seed. (How a bad file is
// named is the IDX reader's: idx_test.cc.)
#include "fixtures/dataset.h"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace trainbench {
namespace {

namespace fs = std::filesystem;

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
