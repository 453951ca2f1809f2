// fixtures/loader.cc, fixtures/host_batch.cc and fixtures/warmup.cc: the loader hands out
// the same batches whatever its worker count, reuses its host batch slots safely, and the
// warm-up on it runs the epoch's smaller last batch.
#include <chrono>
#include <filesystem>
#include <limits>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <ATen/autocast_mode.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include "bench/harness/harness.h"
#include "fixtures/loader.h"
#include "fixtures/warmup.h"
#include "models/fused_adam.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

TEST(LoaderTest, WorkersHandOutTheSameBatchesInOrder) {
  FashionMnist d = MakeSyntheticFashionMnist(1000, 10, 2);
  EpochLoader a(d.train, LoaderOptions{96, 0, false, 9}, 3);
  EpochLoader b(d.train, LoaderOptions{96, 3, false, 9}, 3);
  EXPECT_EQ(a.num_batches(), 11);  // 10 full batches and one of 40
  std::multiset<int64_t> labels_seen;
  int64_t samples = 0;
  while (auto x = a.Next()) {
    auto y = b.Next();
    ASSERT_TRUE(y.has_value());
    ASSERT_TRUE(x->images.equal(y->images));
    ASSERT_TRUE(x->labels.equal(y->labels));
    EXPECT_EQ(x->images.sizes(), (at::IntArrayRef{x->labels.size(0), 1, 28, 28}));
    samples += x->labels.size(0);
    for (int64_t i = 0; i < x->labels.size(0); ++i) labels_seen.insert(x->labels[i].item<int64_t>());
  }
  EXPECT_FALSE(b.Next().has_value());
  EXPECT_EQ(samples, 1000);
  // Each sample once per epoch: the label multiset is the data set's.
  EXPECT_EQ(labels_seen, std::multiset<int64_t>(d.train.labels.begin(), d.train.labels.end()));
}

TEST(LoaderTest, StoppingEarlyJoinsWorkers) {
  FashionMnist d = MakeSyntheticFashionMnist(4096, 10, 2);
  for (int i = 0; i < 20; ++i) {
    EpochLoader loader(d.train, LoaderOptions{16, 4, false, 0}, i);
    ASSERT_TRUE(loader.Next().has_value());
  }  // destructors must not hang with workers blocked on a full window
}

TEST(LoaderTest, LoaderThreadErrorsReachTheConsumer) {
  if (CudaAvailable()) GTEST_SKIP() << "pinned memory works with a GPU: no error to provoke";
  // Without a GPU, allocating pinned host memory throws inside the loader threads; it must
  // come out of Next() (so the benchmark is skipped), not terminate the process.
  FashionMnist d = MakeSyntheticFashionMnist(256, 10, 2);
  for (int workers : {0, 2}) {
    EpochLoader loader(d.train, LoaderOptions{32, workers, /*pinned=*/true, 0}, 0);
    EXPECT_THROW(loader.Next(), std::exception) << workers << " workers";
  }
}

// ---- warm-up

std::vector<int64_t> WarmupSizes(int64_t samples, int64_t batch, int workers, int min_steps) {
  FashionMnist d = MakeSyntheticFashionMnist(samples, 10, 6);
  return WarmUpOnLoader(d.train, LoaderOptions{batch, workers, false, 0}, {min_steps, 0.0}, [](const HostBatch&) {});
}

TEST(WarmupTest, RunsTheSmallerLastBatchToo) {
  // 1000 = 3 x 256 + 232: two steps, then the tail shape from the same pass.
  for (int workers : {0, 2}) {
    EXPECT_EQ(WarmupSizes(1000, 256, workers, 2), (std::vector<int64_t>{256, 256, 232})) << workers;
  }
  // Reaching the tail on the way needs nothing extra; the next pass starts over.
  EXPECT_EQ(WarmupSizes(1000, 256, 0, 5), (std::vector<int64_t>{256, 256, 256, 232, 256}));
  // No tail: exactly the steps asked for.
  EXPECT_EQ(WarmupSizes(1024, 256, 0, 2), (std::vector<int64_t>{256, 256}));
  // Fewer samples than a batch: the one (short) batch is the tail.
  EXPECT_EQ(WarmupSizes(100, 256, 0, 2), (std::vector<int64_t>{100, 100}));
  // Warm-up off.
  EXPECT_TRUE(WarmupSizes(1000, 256, 0, 0).empty());
}

TEST(WarmupTest, ByStabilityEndsWhenStepTimeHasSettledEachStepTimedAfterItsSynchronize) {
  FashionMnist d = MakeSyntheticFashionMnist(512, 10, 6);
  double clock_s = 0;
  // The steps' times on the test's clock: slow first steps (allocator, kernels loading), then
  // steady; the synchronize after each adds the rest of the step's device time.
  const std::vector<double> step_s = {9, 3, 1.0, 1.02, 0.99, 1.0, 1.0, 1.0};
  size_t steps = 0;
  int synchronized = 0;
  WarmupOptions w{/*min_steps=*/1, /*min_seconds=*/0, [&clock_s] { return clock_s; }};
  w.stability = WarmupStability{/*floor_steps=*/4, /*window_steps=*/3, /*tolerance_pct=*/5, /*ceiling_steps=*/8};
  w.synchronize = [&] {
    ++synchronized;
    clock_s += step_s.at(steps - 1) / 2;
  };
  const std::vector<int64_t> sizes = WarmUpOnLoader(d.train, LoaderOptions{64, 0, false, 0}, w,
                                                    [&](const HostBatch&) { clock_s += step_s.at(steps++) / 2; });
  EXPECT_EQ(sizes.size(), 5u);  // 1.0, 1.02, 0.99 are within 5% of their median
  EXPECT_EQ(synchronized, 5);
  // Never steady: the ceiling.
  steps = 0;
  clock_s = 0;
  const std::vector<double> jumpy = {1, 2, 1, 2, 1, 2, 1, 2, 1, 2};
  const auto jumpy_sizes = WarmUpOnLoader(d.train, LoaderOptions{64, 0, false, 0}, w,
                                          [&](const HostBatch&) { clock_s += jumpy.at(steps++); });
  EXPECT_EQ(jumpy_sizes.size(), 8u);
}

TEST(WarmupTest, LastsAtLeastMinSeconds) {
  // A clock the test owns: each step advances it by 0.25 s (exact in binary), so 1 s of
  // warm-up is exactly 4 steps however long the steps really take here.
  FashionMnist d = MakeSyntheticFashionMnist(512, 10, 6);
  double clock_s = 100.0;
  int steps = 0;
  WarmupOptions w{/*min_steps=*/1, /*min_seconds=*/1.0, [&clock_s] { return clock_s; }};
  const std::vector<int64_t> sizes = WarmUpOnLoader(d.train, LoaderOptions{64, 0, false, 0}, w, [&](const HostBatch&) {
    ++steps;
    clock_s += 0.25;
  });
  EXPECT_EQ(steps, 4);
  // 512 = 8 x 64 has no tail, so nothing is added after the time is up.
  EXPECT_EQ(sizes, (std::vector<int64_t>(4, 64)));
  // More steps than the time needs: the steps decide.
  steps = 0;
  w.min_steps = 6;
  EXPECT_EQ(WarmUpOnLoader(d.train, LoaderOptions{64, 0, false, 0}, w,
                           [&](const HostBatch&) {
                             ++steps;
                             clock_s += 0.25;
                           })
                .size(),
            6u);
  EXPECT_EQ(steps, 6);
}

// ---- the host batch pool

class CountingFence final : public HostFence {
 public:
  void Wait() override { ++waits; }
  int waits = 0;
};

TEST(BatchPoolTest, ReusesSlotsInReturnOrderAfterTheirFence) {
  auto pool = std::make_shared<BatchPool>(/*batch_size=*/8, /*pinned=*/false);
  std::shared_ptr<HostSlot> a = pool->Acquire();
  std::shared_ptr<HostSlot> b = pool->Acquire();
  EXPECT_EQ(a->block.numel(), 8 * kSampleBytes);
  HostSlot* const a_raw = a.get();
  HostSlot* const b_raw = b.get();
  auto fence = std::make_shared<CountingFence>();
  b->fence = fence;
  b.reset();  // b comes back first, fenced
  a.reset();
  EXPECT_EQ(pool->slots_allocated(), 2);
  std::shared_ptr<HostSlot> first = pool->Acquire();
  EXPECT_EQ(first.get(), b_raw);
  EXPECT_EQ(fence->waits, 1);  // waited before handing it out for writing
  std::shared_ptr<HostSlot> second = pool->Acquire();
  EXPECT_EQ(second.get(), a_raw);
  // Both held: a third is allocated rather than waiting forever.
  std::shared_ptr<HostSlot> third = pool->Acquire();
  EXPECT_NE(third.get(), a_raw);
  EXPECT_NE(third.get(), b_raw);
  EXPECT_EQ(pool->slots_allocated(), 3);
}

TEST(BatchPoolTest, ViewsPutLabelsRightAfterTheImages) {
  auto pool = std::make_shared<BatchPool>(16, false);
  std::shared_ptr<HostSlot> s = pool->Acquire();
  BatchViews v = ViewBatch(s->block, /*n=*/5);  // a short tail batch in a full-size slot
  EXPECT_EQ(v.images.sizes(), (at::IntArrayRef{5, 1, 28, 28}));
  EXPECT_EQ(v.labels.sizes(), (at::IntArrayRef{5}));
  const auto* base = static_cast<const uint8_t*>(s->block.data_ptr());
  EXPECT_EQ(static_cast<const uint8_t*>(v.images.data_ptr()), base);
  EXPECT_EQ(static_cast<const uint8_t*>(v.labels.data_ptr()), base + 5 * kImageBytes);
}

TEST(LoaderTest, ASteadyEpochReusesItsSlots) {
  FashionMnist d = MakeSyntheticFashionMnist(64 * 40, 10, 2);
  for (int workers : {0, 2}) {
    EpochLoader loader(d.train, LoaderOptions{64, workers, false, 0}, 0);
    int batches = 0;
    while (auto b = loader.Next()) ++batches;
    EXPECT_EQ(batches, 40);
    // The window (2 per worker, 2 without workers) plus the one in hand, not one per batch.
    EXPECT_LE(loader.slots_allocated(), 2 * std::max(workers, 1) + 2) << workers << " workers";
  }
}

TEST(LoaderTest, HeldBatchesAreNotOverwritten) {
  // A consumer that keeps batches (as the epoch keeps the staged one) must see them intact
  // while the loader builds more into other slots.
  FashionMnist d = MakeSyntheticFashionMnist(32 * 12, 10, 2);
  EpochLoader reference(d.train, LoaderOptions{32, 0, false, 4}, 1);
  std::vector<at::Tensor> expected;
  while (auto b = reference.Next()) expected.push_back(b->images.clone());
  EpochLoader loader(d.train, LoaderOptions{32, 2, false, 4}, 1);
  std::vector<HostBatch> held;
  while (auto b = loader.Next()) held.push_back(*std::move(b));
  ASSERT_EQ(held.size(), expected.size());
  for (size_t i = 0; i < held.size(); ++i) EXPECT_TRUE(held[i].images.equal(expected[i])) << i;
  EXPECT_GE(loader.slots_allocated(), static_cast<int64_t>(held.size()));
}

}  // namespace
}  // namespace trainbench
