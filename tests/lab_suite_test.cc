// The lab suite (bench/lab_suite.h): its declared parts, the default sweeps derived from them,
// and the "lab_parts" JSON the tools read.
#include "bench/lab_suite.h"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace trainbench {
namespace {

// BM_TrainStep's CPU points, in both suites (small models: the step alone on CPU and GPU).
std::vector<std::string> CpuSteps() {
  return {
      "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cpu",
      "BM_TrainStep/batch:256/model:Small/precision:fp32/device:cpu",
      "BM_TrainStep/batch:16/model:Medium/precision:fp32/device:cpu",
      "BM_TrainStep/batch:256/model:Medium/precision:fp32/device:cpu",
      "BM_TrainStep/batch:16/model:Large/precision:fp32/device:cpu",
      "BM_TrainStep/batch:256/model:Large/precision:fp32/device:cpu",
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
  const std::vector<std::string> expected = Concat({{
      "BM_TrainEpoch/batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cuda",
      "BM_TrainEpoch/batch:16/model:Medium/workers:4/precision:fp32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:64/model:Medium/workers:4/precision:fp32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:1024/model:Medium/workers:4/precision:fp32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:256/model:Small/workers:4/precision:fp32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:256/model:Medium/workers:0/precision:fp32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:256/model:Medium/workers:2/precision:fp32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:256/model:Medium/workers:8/precision:fp32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:tf32/pin:1/device:cuda",
      "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp16/pin:1/device:cuda",
      "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:bf16/pin:1/device:cuda",
      },
      CpuSteps(),
      {
      "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda",
      "BM_TrainStep/batch:256/model:Small/precision:fp32/device:cuda",
      "BM_TrainStep/batch:16/model:Medium/precision:fp32/device:cuda",
      "BM_TrainStep/batch:256/model:Medium/precision:fp32/device:cuda",
      "BM_TrainStep/batch:16/model:Large/precision:fp32/device:cuda",
      "BM_TrainStep/batch:256/model:Large/precision:fp32/device:cuda",
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
  const std::vector<std::string> expected = Concat({{
      "BM_TrainEpoch/batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:16/model:Medium/workers:2/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:64/model:Medium/workers:2/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:256/model:Medium/workers:2/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:1024/model:Medium/workers:2/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:256/model:Small/workers:2/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:256/model:Large/workers:2/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:256/model:Medium/workers:0/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:256/model:Medium/workers:1/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:0/device:cpu",
      "BM_TrainEpoch/batch:256/model:Medium/workers:2/precision:bf16/pin:0/device:cpu",
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
      const AxisValues centre = PartPoints(LabPart{part.key, part.title, part.families,
                                                   part.centre, part.vary, {}})
                                    .front();
      bool varied = false;
      for (const AxisSweep& s : part.sweeps) {
        varied = varied || s.axis == part.vary;
        EXPECT_TRUE(std::any_of(centre.begin(), centre.end(),
                                [&](const auto& kv) { return kv.first == s.axis; }))
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
  const std::vector<std::string> all = {"part1", "part2", "part3", "part4", "loader",
                                        "precision", "small_models", "transfers"};
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
      {"p", "A \"quoted\" title", {"BM_TrainEpoch"}, "batch:256/model:Medium", "batch",
       {{"batch", {"16", "32"}}}}};
  EXPECT_EQ(LabPartsJson(parts),
            "{\"parts\": [{\"key\": \"p\", \"title\": \"A \\\"quoted\\\" title\", "
            "\"families\": [\"BM_TrainEpoch\"], \"centre\": {\"batch\": \"256\", \"model\": "
            "\"Medium\"}, \"vary\": \"batch\", \"sweeps\": [{\"axis\": \"batch\", \"values\": "
            "[\"16\", \"32\"]}]}]}");
  EXPECT_TRUE(absl::StrContains(LabPartsJson(LabSuite(true)),
                                "{\"axis\": \"batch\", \"values\": [\"16\", \"64\", \"256\", \"1024\"]}"));
}

}  // namespace
}  // namespace trainbench
