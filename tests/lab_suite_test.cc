// bench/suite/lab_suite.cc: the declared lab parts, the default sweeps derived from them, the
// "lab_parts" JSON the tools read, benchmark names, and axis-flag parsing (good and bad).
#include "bench/suite/lab_suite.h"

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace trainbench {

// Readable gtest failure messages for loader configurations.
void PrintTo(const LoaderConfig& c, std::ostream* os) { *os << BenchmarkName(c); }

namespace {

// BM_TrainStep's CPU points, in both suites (small models: the step alone on CPU and GPU).
std::vector<std::string> CpuSteps() {
  return {
      "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cpu/graph:0",
      "BM_TrainStep/batch:256/model:Small/precision:fp32/device:cpu/graph:0",
      "BM_TrainStep/batch:16/model:Medium/precision:fp32/device:cpu/graph:0",
      "BM_TrainStep/batch:256/model:Medium/precision:fp32/device:cpu/graph:0",
      "BM_TrainStep/batch:16/model:Large/precision:fp32/device:cpu/graph:0",
      "BM_TrainStep/batch:256/model:Large/precision:fp32/device:cpu/graph:0",
  };
}

std::vector<std::string> Concat(const std::vector<std::vector<std::string>>& lists) {
  std::vector<std::string> out;
  for (const auto& l : lists) out.insert(out.end(), l.begin(), l.end());
  return out;
}

std::vector<std::string> DefaultNames(bool cuda_available) {
  std::vector<std::string> out;
  for (const EpochConfig& c : DefaultEpochSweep(cuda_available)) out.push_back(BenchmarkName(c));
  for (const StepConfig& c : DefaultStepSweep(cuda_available)) out.push_back(BenchmarkName(c));
  for (const LoaderConfig& c : LoaderConfigs(DefaultEpochSweep(cuda_available))) {
    out.push_back(BenchmarkName(c));
  }
  return out;
}

// The default suite's names, in registration order, as they were before the suite was
// declared as a table (results, filters and comparisons key on them): a change here is a
// change of the benchmark interface, not a refactoring.
TEST(LabSuiteTest, GpuDefaultNamesAreUnchanged) {
  const std::vector<std::string> expected =
      Concat({{
                  "BM_TrainEpoch/batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:16/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:64/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:1024/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:256/model:Small/workers:4/precision:fp32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:256/model:Medium/workers:0/precision:fp32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:256/model:Medium/workers:2/precision:fp32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:256/model:Medium/workers:8/precision:fp32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:tf32/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp16/pin:1/device:cuda/graph:0",
                  "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:bf16/pin:1/device:cuda/graph:0",
              },
              CpuSteps(),
              {
                  "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda/graph:0",
                  "BM_TrainStep/batch:256/model:Small/precision:fp32/device:cuda/graph:0",
                  "BM_TrainStep/batch:16/model:Medium/precision:fp32/device:cuda/graph:0",
                  "BM_TrainStep/batch:256/model:Medium/precision:fp32/device:cuda/graph:0",
                  "BM_TrainStep/batch:16/model:Large/precision:fp32/device:cuda/graph:0",
                  "BM_TrainStep/batch:256/model:Large/precision:fp32/device:cuda/graph:0",
                  "BM_DataLoader/batch:64/workers:0/pin:0",
                  "BM_DataLoader/batch:16/workers:4/pin:1",
                  "BM_DataLoader/batch:64/workers:4/pin:1",
                  "BM_DataLoader/batch:256/workers:4/pin:1",
                  "BM_DataLoader/batch:1024/workers:4/pin:1",
                  "BM_DataLoader/batch:256/workers:0/pin:1",
                  "BM_DataLoader/batch:256/workers:2/pin:1",
                  "BM_DataLoader/batch:256/workers:8/pin:1",
              }});
  EXPECT_EQ(DefaultNames(/*cuda_available=*/true), expected);
}

TEST(LabSuiteTest, CpuDefaultNamesAreUnchanged) {
  const std::vector<std::string> expected =
      Concat({{
                  "BM_TrainEpoch/batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:16/model:Medium/workers:2/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:64/model:Medium/workers:2/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:256/model:Medium/workers:2/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:1024/model:Medium/workers:2/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:256/model:Small/workers:2/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:256/model:Large/workers:2/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:256/model:Medium/workers:0/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:256/model:Medium/workers:1/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:0/device:cpu/graph:0",
                  "BM_TrainEpoch/batch:256/model:Medium/workers:2/precision:bf16/pin:0/device:cpu/graph:0",
              },
              CpuSteps(),
              {
                  "BM_DataLoader/batch:64/workers:0/pin:0",
                  "BM_DataLoader/batch:16/workers:2/pin:0",
                  "BM_DataLoader/batch:64/workers:2/pin:0",
                  "BM_DataLoader/batch:256/workers:2/pin:0",
                  "BM_DataLoader/batch:1024/workers:2/pin:0",
                  "BM_DataLoader/batch:256/workers:0/pin:0",
                  "BM_DataLoader/batch:256/workers:1/pin:0",
                  "BM_DataLoader/batch:256/workers:4/pin:0",
              }});
  EXPECT_EQ(DefaultNames(/*cuda_available=*/false), expected);
}

std::string PointName(const std::string& family, const AxisValues& point) {
  std::string name = family;
  for (const auto& [axis, value] : point) name += "/" + axis + ":" + value;
  return name;
}

// Each declared point is spelt exactly as the benchmark it registers: the table and the
// names cannot drift apart.
TEST(LabSuiteTest, EveryPointIsARegisteredBenchmarkName) {
  for (bool cuda : {true, false}) {
    std::vector<std::string> registered = DefaultNames(cuda);
    for (const TransferConfig& c : DefaultTransfers(cuda)) registered.push_back(BenchmarkName(c));
    for (const LabPart& part : LabSuite(cuda)) {
      ASSERT_FALSE(PartPoints(part).empty()) << part.key;
      for (const std::string& family : part.families) {
        for (const AxisValues& point : PartPoints(part)) {
          const std::string name = PointName(family, point);
          EXPECT_NE(std::find(registered.begin(), registered.end(), name), registered.end())
              << part.key << " (cuda " << cuda << "): " << name;
        }
      }
    }
  }
}

TEST(LabSuiteTest, EachPartVariesOneOfItsSweptAxesAroundACompleteCentre) {
  for (bool cuda : {true, false}) {
    for (const LabPart& part : LabSuite(cuda)) {
      const AxisValues centre =
          PartPoints(LabPart{part.key, part.title, part.families, part.centre, part.vary, {}}).front();
      bool varied = false;
      for (const AxisSweep& s : part.sweeps) {
        varied = varied || s.axis == part.vary;
        EXPECT_TRUE(std::any_of(centre.begin(), centre.end(), [&](const auto& kv) { return kv.first == s.axis; }))
            << part.key << ": sweeps " << s.axis << ", which its centre does not name";
        EXPECT_FALSE(s.values.empty()) << part.key << " " << s.axis;
      }
      EXPECT_TRUE(varied) << part.key << " varies " << part.vary << " but does not sweep it";
    }
  }
}

TEST(LabSuiteTest, GpuSuiteHasEveryLabPartCpuSuiteNoTransfers) {
  std::vector<std::string> gpu, cpu;
  for (const LabPart& p : LabSuite(true)) gpu.push_back(p.key);
  for (const LabPart& p : LabSuite(false)) cpu.push_back(p.key);
  const std::vector<std::string> all = {"part1",  "part2",     "part3",        "part4",
                                        "loader", "precision", "small_models", "transfers"};
  EXPECT_EQ(gpu, all);
  EXPECT_EQ(std::count(cpu.begin(), cpu.end(), "transfers"), 0);
  EXPECT_EQ(DefaultTransfers(true).size(), 28u);  // 7 sizes x pinned/pageable x 2 directions
  EXPECT_TRUE(DefaultTransfers(false).empty());
}

// The loader part is derived from Part 4, so a worker count added there reaches both.
TEST(LabSuiteTest, LoaderPartFollowsPart4) {
  std::vector<LabPart> parts = LabSuite(true);
  const auto find = [&](const std::string& key) {
    return *std::find_if(parts.begin(), parts.end(), [&](const LabPart& p) { return p.key == key; });
  };
  const LabPart part4 = find("part4");
  const LabPart loader = find("loader");
  EXPECT_EQ(loader.centre, "batch:256/workers:4/pin:1");
  ASSERT_EQ(loader.sweeps.size(), 1u);
  EXPECT_EQ(loader.sweeps[0].values, part4.sweeps[0].values);
}

TEST(LabSuiteTest, JsonNamesEachPartsCentreAndSweepsAndEscapes) {
  const std::vector<LabPart> parts = {
      {"p", "A \"quoted\" title", {"BM_TrainEpoch"}, "batch:256/model:Medium", "batch", {{"batch", {"16", "32"}}}}};
  EXPECT_EQ(LabPartsJson(parts),
            "{\"parts\": [{\"key\": \"p\", \"title\": \"A \\\"quoted\\\" title\", "
            "\"families\": [\"BM_TrainEpoch\"], \"centre\": {\"batch\": \"256\", \"model\": "
            "\"Medium\"}, \"vary\": \"batch\", \"sweeps\": [{\"axis\": \"batch\", \"values\": "
            "[\"16\", \"32\"]}]}]}");
  EXPECT_TRUE(absl::StrContains(LabPartsJson(LabSuite(true)),
                                "{\"axis\": \"batch\", \"values\": [\"16\", \"64\", \"256\", \"1024\"]}"));
}

// ---- configurations, names and axis-flag parsing

TEST(NamesTest, EpochNameHasAxesInOrder) {
  EXPECT_EQ(BenchmarkName(EpochConfig{256, ModelKind::kLarge, 4, Precision::kFp32, true, DeviceKind::kCuda}),
            "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda/graph:0");
  EXPECT_EQ(BenchmarkName(EpochConfig{16, ModelKind::kSmall, 0, Precision::kBf16, false, DeviceKind::kCpu}),
            "BM_TrainEpoch/batch:16/model:Small/workers:0/precision:bf16/pin:0/device:cpu/graph:0");
  EXPECT_EQ(BenchmarkName(StepConfig{64, ModelKind::kMedium, Precision::kFp16, DeviceKind::kCuda}),
            "BM_TrainStep/batch:64/model:Medium/precision:fp16/device:cuda/graph:0");
  EXPECT_EQ(BenchmarkName(LoaderConfig{256, 4, true}), "BM_DataLoader/batch:256/workers:4/pin:1");
  EXPECT_EQ(BenchmarkName(LoaderConfig{16, 0, false}), "BM_DataLoader/batch:16/workers:0/pin:0");
}

TEST(LoaderConfigsTest, OnePerLoaderSettingTheEpochsUseInFirstUseOrder) {
  const std::vector<LoaderConfig> gpu = LoaderConfigs(DefaultEpochSweep(/*cuda_available=*/true));
  // Part 1 (pageable, 0 workers, cpu and cuda share it), Part 2's batches, Part 4's workers;
  // Parts 3 and the precision sweep add no loader setting of their own.
  const std::vector<LoaderConfig> want = {{64, 0, false},  {16, 4, true},  {64, 4, true},  {256, 4, true},
                                          {1024, 4, true}, {256, 0, true}, {256, 2, true}, {256, 8, true}};
  EXPECT_EQ(gpu, want);
  for (const LoaderConfig& c : LoaderConfigs(DefaultEpochSweep(false))) EXPECT_FALSE(c.pin);

  AxisFlags f;
  f["model"] = {"Small", "Large"};
  f["workers"] = {"0", "2"};
  f["pin"] = {"0", "1"};
  absl::StatusOr<std::vector<EpochConfig>> e = EpochConfigs(f, /*cuda_available=*/true);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 8u);  // 2 models x 2 workers x 2 pins
  const std::vector<LoaderConfig> want_flags = {{256, 0, false}, {256, 0, true}, {256, 2, false}, {256, 2, true}};
  EXPECT_EQ(LoaderConfigs(*e), want_flags);
}

bool Unique(const std::vector<EpochConfig>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t j = i + 1; j < v.size(); ++j)
      if (v[i] == v[j]) return false;
  return true;
}

TEST(SweepTest, GpuDefaultCoversTheLabsFourPartsAndPrecision) {
  const std::vector<EpochConfig> s = DefaultEpochSweep(/*cuda_available=*/true);
  EXPECT_TRUE(Unique(s));
  auto has = [&s](int64_t b, ModelKind m, int w, Precision p, bool pin, DeviceKind d) {
    return std::find(s.begin(), s.end(), EpochConfig{b, m, w, p, pin, d}) != s.end();
  };
  const auto M = ModelKind::kMedium;
  const auto fp32 = Precision::kFp32;
  EXPECT_TRUE(has(64, M, 0, fp32, false, DeviceKind::kCpu));   // Part 1
  EXPECT_TRUE(has(64, M, 0, fp32, false, DeviceKind::kCuda));  // Part 1
  for (int64_t b : {16, 64, 256, 1024}) EXPECT_TRUE(has(b, M, 4, fp32, true, DeviceKind::kCuda));
  for (auto m : {ModelKind::kSmall, ModelKind::kMedium, ModelKind::kLarge})
    EXPECT_TRUE(has(256, m, 4, fp32, true, DeviceKind::kCuda));
  for (int w : {0, 2, 4, 8}) EXPECT_TRUE(has(256, M, w, fp32, true, DeviceKind::kCuda));
  for (auto p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16})
    EXPECT_TRUE(has(256, ModelKind::kLarge, 4, p, true, DeviceKind::kCuda));
  // 2 + 4 + 2 new in Part 3 + 3 new in Part 4 + 3 new precisions.
  EXPECT_EQ(s.size(), 14u);
}

TEST(SweepTest, CpuDefaultIsCpuOnlyAndPageable) {
  const std::vector<EpochConfig> s = DefaultEpochSweep(/*cuda_available=*/false);
  EXPECT_TRUE(Unique(s));
  EXPECT_FALSE(s.empty());
  for (const EpochConfig& c : s) {
    EXPECT_EQ(c.device, DeviceKind::kCpu);
    EXPECT_FALSE(c.pin);
  }
  const std::vector<StepConfig> steps = DefaultStepSweep(false);
  EXPECT_EQ(steps.size(), 6u);
  EXPECT_EQ(DefaultStepSweep(true).size(), 12u);
}

}  // namespace
}  // namespace trainbench
