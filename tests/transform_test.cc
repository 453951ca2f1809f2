// The loader's per-sample transform: shapes, value range, crop/flip geometry and determinism.
#include <algorithm>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures/transform.h"

namespace trainbench {
namespace {

constexpr float kZero = (0.0f - kFashionMean) / kFashionStd;  // a black (or padded) pixel
constexpr float kFull = (1.0f - kFashionMean) / kFashionStd;  // a white pixel

// An image whose pixel (y, x) is y * 8 + x (distinct for every position, fits a byte).
std::vector<uint8_t> Gradient() {
  std::vector<uint8_t> img(kImagePixels);
  for (int y = 0; y < kImageSide; ++y)
    for (int x = 0; x < kImageSide; ++x) img[y * kImageSide + x] = static_cast<uint8_t>(y * 8 + x);
  return img;
}

float Norm(int v) { return (static_cast<float>(v) / 255.0f - kFashionMean) / kFashionStd; }

TEST(TransformTest, NormalizeMapsBytesToStandardizedRange) {
  std::vector<uint8_t> img(kImagePixels, 0);
  img[0] = 255;
  img[1] = 73;
  std::vector<float> out(kImagePixels);
  NormalizeImage(img.data(), out.data());
  EXPECT_FLOAT_EQ(out[0], kFull);
  EXPECT_FLOAT_EQ(out[1], Norm(73));
  EXPECT_FLOAT_EQ(out[2], kZero);
}

TEST(TransformTest, CenteredCropWithoutFlipIsTheIdentity) {
  const std::vector<uint8_t> img = Gradient();
  std::vector<float> a(kImagePixels), b(kImagePixels);
  AugmentImage(img.data(), CropFlip{}, a.data());
  NormalizeImage(img.data(), b.data());
  EXPECT_EQ(a, b);
}

TEST(TransformTest, CropShiftsAndPadsWithZero) {
  const std::vector<uint8_t> img = Gradient();
  std::vector<float> out(kImagePixels);
  // dy = dx = 0: the crop starts 2 pixels above and left of the image, so rows/cols 0-1 are
  // padding and out(2, 2) is the image's (0, 0).
  AugmentImage(img.data(), CropFlip{0, 0, false}, out.data());
  EXPECT_FLOAT_EQ(out[0], kZero);
  EXPECT_FLOAT_EQ(out[1 * kImageSide + 27], kZero);
  EXPECT_FLOAT_EQ(out[2 * kImageSide + 2], Norm(0));
  EXPECT_FLOAT_EQ(out[5 * kImageSide + 10], Norm(3 * 8 + 8));
  // dy = dx = 4: shifted the other way; the last two rows and columns are padding.
  AugmentImage(img.data(), CropFlip{4, 4, false}, out.data());
  EXPECT_FLOAT_EQ(out[0], Norm(2 * 8 + 2));
  EXPECT_FLOAT_EQ(out[27 * kImageSide + 0], kZero);
  EXPECT_FLOAT_EQ(out[0 * kImageSide + 26], kZero);
}

TEST(TransformTest, FlipMirrorsColumns) {
  const std::vector<uint8_t> img = Gradient();
  std::vector<float> flipped(kImagePixels);
  AugmentImage(img.data(), CropFlip{2, 2, true}, flipped.data());
  for (int y = 0; y < kImageSide; ++y) {
    for (int x = 0; x < kImageSide; ++x) {
      ASSERT_FLOAT_EQ(flipped[y * kImageSide + x], Norm(y * 8 + (kImageSide - 1 - x)));
    }
  }
}

TEST(TransformTest, DrawsCoverAllOffsetsAndBothFlips) {
  std::mt19937_64 rng = BatchRng(0, 0, 0);
  std::set<int> dys, dxs;
  int flips = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const CropFlip cf = DrawCropFlip(rng);
    ASSERT_GE(cf.dy, 0);
    ASSERT_LE(cf.dy, 2 * kPadPixels);
    dys.insert(cf.dy);
    dxs.insert(cf.dx);
    flips += cf.flip ? 1 : 0;
  }
  EXPECT_EQ(dys.size(), 5u);
  EXPECT_EQ(dxs.size(), 5u);
  // p = 0.5: 4000 draws land within +-150 of 2000 with overwhelming probability (~4.7 sigma).
  EXPECT_NEAR(flips, n / 2, 150);
}

TEST(TransformTest, BatchesHaveShapeRangeAndAreDeterministic) {
  FashionMnist d = MakeSyntheticFashionMnist(64, 10, 3);
  const std::vector<int64_t> order = EpochOrder(64, /*seed=*/5, /*epoch=*/0);
  std::vector<float> a(32 * kImagePixels), b(32 * kImagePixels), c(32 * kImagePixels);
  std::vector<int64_t> la(32), lb(32), lc(32);
  std::mt19937_64 r1 = BatchRng(5, 0, 1), r2 = BatchRng(5, 0, 1), r3 = BatchRng(5, 1, 1);
  MakeTrainBatch(d.train, order.data(), 32, r1, a.data(), la.data());
  MakeTrainBatch(d.train, order.data(), 32, r2, b.data(), lb.data());
  MakeTrainBatch(d.train, order.data(), 32, r3, c.data(), lc.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(la, lb);
  EXPECT_NE(a, c);  // another epoch's stream draws other crops
  for (float v : a) {
    ASSERT_GE(v, kZero - 1e-6f);
    ASSERT_LE(v, kFull + 1e-6f);
  }
  for (int i = 0; i < 32; ++i) EXPECT_EQ(la[i], d.train.labels[order[i]]);
}

TEST(TransformTest, EpochOrderIsASeededPermutation) {
  const std::vector<int64_t> o = EpochOrder(1000, 1, 0);
  std::vector<int64_t> sorted = o;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(o, EpochOrder(1000, 1, 0));
  EXPECT_NE(o, EpochOrder(1000, 1, 1));
  EXPECT_NE(o, EpochOrder(1000, 2, 0));
}

TEST(TransformTest, ShardsSliceTheSameOrderAsDistributedSamplerDoes) {
  const std::vector<int64_t> order = EpochOrder(10, 7, 0);
  EXPECT_EQ(ShardOrder(order, 0, 1), order);
  // 10 samples over 3 shards: 4 each, padded with the order's first 2; shard r takes
  // positions r, r+3, r+6, r+9 of the padded order.
  EXPECT_EQ(ShardSize(10, 3), 4);
  const std::vector<int64_t> padded = {order[0], order[1], order[2], order[3], order[4], order[5],
                                       order[6], order[7], order[8], order[9], order[0], order[1]};
  std::multiset<int64_t> all;
  for (int r = 0; r < 3; ++r) {
    const std::vector<int64_t> shard = ShardOrder(order, r, 3);
    EXPECT_EQ(shard, (std::vector<int64_t>{padded[r], padded[r + 3], padded[r + 6], padded[r + 9]})) << r;
    all.insert(shard.begin(), shard.end());
  }
  // Every sample once, and the two padding samples twice.
  for (int64_t s = 0; s < 10; ++s) {
    EXPECT_EQ(all.count(s), (s == order[0] || s == order[1]) ? 2u : 1u) << s;
  }
  // More shards than samples: the order repeats, as the sampler's does.
  EXPECT_EQ(ShardOrder({5, 6}, 4, 5), (std::vector<int64_t>{5}));
  EXPECT_EQ(ShardOrder({5, 6}, 3, 5), (std::vector<int64_t>{6}));
}

}  // namespace
}  // namespace trainbench
