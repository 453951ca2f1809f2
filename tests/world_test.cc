// bench/dist/world.h: the world as torchrun or Slurm describe it, and one-line errors for what a
// launcher would never write.
#include "bench/dist/world.h"
#include "bench/families/all_reduce.h"

#include <gtest/gtest.h>

#include <limits>

namespace trainbench {
namespace {

LauncherVariables Torchrun(const std::string& rank, const std::string& size) {
  return {{"RANK", rank},
          {"WORLD_SIZE", size},
          {"LOCAL_RANK", rank},
          {"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", "29500"}};
}

std::string Error(const LauncherVariables& env) {
  absl::StatusOr<World> w = ParseWorld(env);
  EXPECT_FALSE(w.ok());
  return w.ok() ? "" : std::string(w.status().message());
}

// Who this rank is and where the store is, as ParseWorld read them.
struct WantedWorld {
  Launcher launcher;
  int rank, size, local_rank;
  std::string master_addr;
  int master_port;
};

void ExpectWorld(const World& w, const WantedWorld& want) {
  EXPECT_EQ(w.launcher, want.launcher);
  EXPECT_EQ(w.rank, want.rank);
  EXPECT_EQ(w.size, want.size);
  EXPECT_EQ(w.local_rank, want.local_rank);
  EXPECT_EQ(w.master_addr, want.master_addr);
  EXPECT_EQ(w.master_port, want.master_port);
}

TEST(WorldTest, NoLauncherIsAWorldOfOne) {
  absl::StatusOr<World> w = ParseWorld({});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->size, 1);
  EXPECT_EQ(w->rank, 0);
  EXPECT_FALSE(w->distributed());
  EXPECT_EQ(w->launcher, Launcher::kNone);
  // MASTER_* alone (left over in a shell) do not make a world.
  w = ParseWorld({{"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "1"}});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE(w->distributed());
}

TEST(WorldTest, Torchrun) {
  absl::StatusOr<World> w = ParseWorld(Torchrun("1", "2"));
  ASSERT_TRUE(w.ok()) << w.status();
  ExpectWorld(*w, {Launcher::kTorchrun, /*rank=*/1, /*size=*/2, /*local_rank=*/1, "127.0.0.1", 29500});
  EXPECT_TRUE(w->distributed());
  EXPECT_FALSE(w->agent_store);
}

TEST(WorldTest, TorchrunAgentStoreMakesEveryRankAClient) {
  LauncherVariables env = Torchrun("0", "2");
  env["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  absl::StatusOr<World> w = ParseWorld(env);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->agent_store);
  env["TORCHELASTIC_USE_AGENT_STORE"] = "False";
  w = ParseWorld(env);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE(w->agent_store);
}

TEST(WorldTest, TorchrunWorldOfOneNeedsNoMaster) {
  absl::StatusOr<World> w = ParseWorld({{"RANK", "0"}, {"WORLD_SIZE", "1"}});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE(w->distributed());
  EXPECT_EQ(w->local_rank, 0);
}

TEST(WorldTest, Slurm) {
  absl::StatusOr<World> w = ParseWorld({{"SLURM_PROCID", "5"},
                                        {"SLURM_STEP_NUM_TASKS", "8"},
                                        {"SLURM_LOCALID", "1"},
                                        {"MASTER_ADDR", "node01"},
                                        {"MASTER_PORT", "12345"}});
  ASSERT_TRUE(w.ok()) << w.status();
  ExpectWorld(*w, {Launcher::kSlurm, /*rank=*/5, /*size=*/8, /*local_rank=*/1, "node01", 12345});
}

TEST(WorldTest, AnSallocShellOrSbatchScriptIsAWorldOfOne) {
  // Outside an srun step Slurm still sets SLURM_NTASKS (and, in a batch script, SLURM_PROCID):
  // a plain run there must not wait for ranks that never come.
  absl::StatusOr<World> w = ParseWorld({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->launcher, Launcher::kNone);
  EXPECT_FALSE(w->distributed());
}

TEST(WorldTest, TorchrunWinsOverSlurm) {
  LauncherVariables env = Torchrun("1", "2");
  env["SLURM_PROCID"] = "0";
  env["SLURM_STEP_NUM_TASKS"] = "1";
  absl::StatusOr<World> w = ParseWorld(env);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->launcher, Launcher::kTorchrun);
  EXPECT_EQ(w->rank, 1);
}

TEST(WorldTest, BadValuesAreOneLineNamingTheVariable) {
  EXPECT_EQ(Error(Torchrun("abc", "2")), "RANK=abc: not an integer");
  EXPECT_EQ(Error(Torchrun("1.5", "2")), "RANK=1.5: not an integer");
  EXPECT_EQ(Error(Torchrun(" 1", "2")), "RANK= 1: not an integer");
  EXPECT_EQ(Error(Torchrun("", "2")), "RANK=: not an integer");
  EXPECT_EQ(Error(Torchrun("-1", "2")), "RANK=-1: must be >= 0");
  EXPECT_EQ(Error(Torchrun("3", "2")), "RANK=3: not below WORLD_SIZE=2");
  EXPECT_EQ(Error(Torchrun("2", "2")), "RANK=2: not below WORLD_SIZE=2");
  EXPECT_EQ(Error(Torchrun("0", "0")), "WORLD_SIZE=0: must be >= 1");
  EXPECT_EQ(Error(Torchrun("0", "two")), "WORLD_SIZE=two: not an integer");
  EXPECT_EQ(Error(Torchrun("0", "99999999999999999999")), "WORLD_SIZE=99999999999999999999: not an integer");
  EXPECT_EQ(Error({{"RANK", "0"}}), "WORLD_SIZE: not set (RANK is set)");
  EXPECT_EQ(Error({{"WORLD_SIZE", "2"}}), "RANK: not set (WORLD_SIZE is set)");

  LauncherVariables env = Torchrun("0", "2");
  env.erase("MASTER_ADDR");
  EXPECT_EQ(Error(env), "MASTER_ADDR: not set (needed with WORLD_SIZE=2)");
  env = Torchrun("0", "2");
  env.erase("MASTER_PORT");
  EXPECT_EQ(Error(env), "MASTER_PORT: not set (needed with WORLD_SIZE=2)");
  env = Torchrun("0", "2");
  env["MASTER_PORT"] = "70000";
  EXPECT_EQ(Error(env), "MASTER_PORT=70000: not a TCP port (1 to 65535)");
  env["MASTER_PORT"] = "0";
  EXPECT_EQ(Error(env), "MASTER_PORT=0: not a TCP port (1 to 65535)");
  env = Torchrun("0", "2");
  env.erase("LOCAL_RANK");
  EXPECT_EQ(Error(env), "LOCAL_RANK: not set (needed with WORLD_SIZE=2)");
  env["LOCAL_RANK"] = "2";
  EXPECT_EQ(Error(env), "LOCAL_RANK=2: not below WORLD_SIZE=2");

  EXPECT_EQ(Error({{"SLURM_PROCID", "4"},
                   {"SLURM_STEP_NUM_TASKS", "4"},
                   {"SLURM_LOCALID", "0"},
                   {"MASTER_ADDR", "a"},
                   {"MASTER_PORT", "1"}}),
            "SLURM_PROCID=4: not below SLURM_STEP_NUM_TASKS=4");
  EXPECT_EQ(Error({{"SLURM_PROCID", "0"}, {"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_LOCALID", "0"}, {"MASTER_PORT", "1"}}),
            "MASTER_ADDR: not set (needed with SLURM_STEP_NUM_TASKS=2)");
}

TEST(AllReduceTest, NamesSizesAndBusFactor) {
  EXPECT_EQ(AllReduceBenchmarkName(4096, 2), "BM_AllReduce/bytes:4096/ranks:2");
  const std::vector<int64_t> sizes = DefaultAllReduceBytes();
  ASSERT_EQ(sizes.size(), 9u);
  EXPECT_EQ(sizes.front(), 4096);
  EXPECT_EQ(sizes.back(), int64_t{256} << 20);
  for (size_t i = 1; i < sizes.size(); ++i) EXPECT_EQ(sizes[i], 4 * sizes[i - 1]);
  EXPECT_DOUBLE_EQ(AllReduceBusFactor(2), 1.0);
  EXPECT_DOUBLE_EQ(AllReduceBusFactor(4), 1.5);
  EXPECT_DOUBLE_EQ(AllReduceBusFactor(8), 1.75);
  EXPECT_DOUBLE_EQ(AllReduceBusFactor(1), 0.0);
}

// Issue 18, finding 4: on CUDA a row's time is a span of back-to-back all-reduces between
// two events over the ops in it; the bandwidths follow from that time as nccl-tests' do.
TEST(AllReduceTest, OpsPerSpanFillTheTargetSpanWithinBounds) {
  // 10 ms of ops: 100 us ones make 100, 3 ms ones 4 (ceil: the span is never short of it).
  EXPECT_EQ(AllReduceOpsPerSpan(100e-6), 100);
  EXPECT_EQ(AllReduceOpsPerSpan(3e-3), 4);
  EXPECT_EQ(AllReduceOpsPerSpan(kAllReduceSpanTarget_s), 1);
  // A 256 MiB op across nodes (50 ms) is a span of its own; 4 KiB ones (5 us) stop at the cap.
  EXPECT_EQ(AllReduceOpsPerSpan(50e-3), 1);
  EXPECT_EQ(AllReduceOpsPerSpan(5e-6), kAllReduceMaxOpsPerSpan);
  EXPECT_EQ(AllReduceOpsPerSpan(1e-9), kAllReduceMaxOpsPerSpan);
  // An event pair that measured nothing (or garbage) gets the most ops, not a division by 0.
  EXPECT_EQ(AllReduceOpsPerSpan(0.0), kAllReduceMaxOpsPerSpan);
  EXPECT_EQ(AllReduceOpsPerSpan(-1.0), kAllReduceMaxOpsPerSpan);
  EXPECT_EQ(AllReduceOpsPerSpan(std::numeric_limits<double>::quiet_NaN()), kAllReduceMaxOpsPerSpan);
  EXPECT_EQ(AllReduceOpsPerSpan(std::numeric_limits<double>::infinity()), 1);
  EXPECT_EQ(AllReduceOpsPerSpan(std::numeric_limits<double>::quiet_NaN()), kAllReduceMaxOpsPerSpan);
  // Every estimate gives a span of at least the target, unless the cap holds it shorter.
  for (const double op_s : {1e-6, 7e-6, 13e-6, 99e-6, 1.7e-3, 9.9e-3}) {
    const int64_t ops = AllReduceOpsPerSpan(op_s);
    EXPECT_TRUE(ops == kAllReduceMaxOpsPerSpan || ops * op_s >= kAllReduceSpanTarget_s) << op_s;
    EXPECT_LT((ops - 1) * op_s, kAllReduceSpanTarget_s) << op_s;  // and no more ops than that needs
  }
}

TEST(AllReduceTest, TimePerOpAndBandwidthsFromTheSpan) {
  // 200 ops of 1 MiB in a 10 ms span: 50 us each.
  const double op_s = AllReduceSecondsPerOp(10e-3, 200);
  EXPECT_DOUBLE_EQ(op_s, 50e-6);
  EXPECT_DOUBLE_EQ(AllReduceSecondsPerOp(1.0, 0), 0.0);
  // One such op per iteration, 4 iterations: 4 MiB in 200 us = 20.97152 GB/s; at 8 ranks the
  // bus carries 2 x 7/8 of it.
  const AllReduceBandwidth eight = AllReduceBandwidths(int64_t{1} << 20, 4, 4 * op_s, 8);
  EXPECT_DOUBLE_EQ(eight.algbw_GB_per_s, 1048576.0 * 4 / 200e-6 / 1e9);
  EXPECT_NEAR(eight.algbw_GB_per_s, 20.97152, 1e-9);
  EXPECT_DOUBLE_EQ(eight.busbw_GB_per_s, eight.algbw_GB_per_s * 1.75);
  // Two ranks: busbw is algbw; one rank: no bus.
  const AllReduceBandwidth two = AllReduceBandwidths(4096, 1, 1e-6, 2);
  EXPECT_DOUBLE_EQ(two.algbw_GB_per_s, 4.096);
  EXPECT_DOUBLE_EQ(two.busbw_GB_per_s, 4.096);
  EXPECT_DOUBLE_EQ(AllReduceBandwidths(4096, 1, 1e-6, 1).busbw_GB_per_s, 0.0);
  // No time or no ops: nothing, rather than infinity.
  EXPECT_DOUBLE_EQ(AllReduceBandwidths(4096, 1, 0.0, 2).algbw_GB_per_s, 0.0);
  EXPECT_DOUBLE_EQ(AllReduceBandwidths(4096, 0, 1.0, 2).algbw_GB_per_s, 0.0);
}

TEST(AllReduceTest, TheLabelSaysHowTheRowWasTimed) {
  EXPECT_EQ(AllReduceTimingLabel(/*cuda_events=*/false, 1), "timing=host_per_call");
  EXPECT_EQ(AllReduceTimingLabel(/*cuda_events=*/true, 200), "timing=cuda_events ops_per_span=200");
}

TEST(WorldTest, LauncherNames) {
  EXPECT_STREQ(LauncherName(Launcher::kNone), "none");
  EXPECT_STREQ(LauncherName(Launcher::kTorchrun), "torchrun");
  EXPECT_STREQ(LauncherName(Launcher::kSlurm), "slurm");
}

// Issue 18, finding 6: flags were compared by position, so the same flags in another order
// were refused and an appended one was reported against an unrelated line.
TEST(RunDifferenceTest, FlagsAreASetAndBenchmarksASequence) {
  const std::vector<std::string> rank0 = {"flag --epochs=2", "flag --seed=1", "data train:64 test:64", "benchmark BM_A",
                                          "benchmark BM_B"};
  EXPECT_EQ(RunDifference(rank0, {"flag --seed=1", "flag --epochs=2", "data train:64 test:64", "benchmark BM_A",
                                  "benchmark BM_B"}),
            std::nullopt);
  EXPECT_EQ(RunDifference(rank0, {"flag --epochs=2", "flag --seed=1", "flag --quiet", "data train:64 test:64",
                                  "benchmark BM_A", "benchmark BM_B"}),
            "it has 'flag --quiet', which rank 0 has not");
  EXPECT_EQ(RunDifference(rank0, {"flag --epochs=2", "data train:64 test:64", "benchmark BM_A", "benchmark BM_B"}),
            "it lacks 'flag --seed=1', which rank 0 has");
  // The benchmarks pair the ranks' collectives: their order matters.
  EXPECT_EQ(RunDifference(rank0, {"flag --epochs=2", "flag --seed=1", "data train:64 test:64", "benchmark BM_B",
                                  "benchmark BM_A"}),
            "it has 'benchmark BM_B' where rank 0 has 'benchmark BM_A'");
  EXPECT_EQ(RunDifference(rank0, {"flag --epochs=2", "flag --seed=1", "data train:64 test:64", "benchmark BM_A"}),
            "it has nothing where rank 0 has 'benchmark BM_B'");
}

}  // namespace
}  // namespace trainbench
