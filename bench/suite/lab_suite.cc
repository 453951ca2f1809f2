#include "bench/suite/lab_suite.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json.h"

namespace trainbench {
namespace {

template <typename T>
void AppendUnique(std::vector<T>& out, const T& v) {
  if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
}

}  // namespace

std::vector<LoaderConfig> LoaderConfigs(const std::vector<EpochConfig>& epoch_configs) {
  std::vector<LoaderConfig> out;
  for (const EpochConfig& e : epoch_configs) AppendUnique(out, LoaderConfig{e.batch, e.workers, e.pin});
  return out;
}

// ---- The lab suite. Each part: key, title, families, centre, the axis its question is
// about, and its sweeps (crossed, outer to inner). Values are spelt as in benchmark names.
namespace {

constexpr char kEpoch[] = "BM_TrainEpoch";
constexpr char kStep[] = "BM_TrainStep";

// The lab's GPU settings: pinned batches, 4 loader workers.
// graph:0 throughout: CUDA graph rows join the suite once a GPU run has shown them working.
constexpr char kGpuCentre[] = "batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0";
// CPU-sized: 2 cores here, so loader workers beyond 2 only show oversubscription, and the
// pinned-memory axis does not exist (pin:0).
constexpr char kCpuCentre[] = "batch:256/model:Medium/workers:2/precision:fp32/pin:0/device:cpu/graph:0";

const AxisSweep kBatchSweep{"batch", {"16", "64", "256", "1024"}};
const AxisSweep kModelSweep{"model", {"Small", "Medium", "Large"}};
// Small models: the step without the loader, at a small and the lab's batch.
const AxisSweep kStepBatchSweep{"batch", {"16", "256"}};

std::vector<LabPart> GpuParts() {
  return {
      {"part1",
       "Part 1: CPU vs GPU",
       {kEpoch},
       "batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cuda/graph:0",  // the lab's plain loop
       "device",
       {{"device", {"cpu", "cuda"}}}},
      {"part2", "Part 2: Batch size effects", {kEpoch}, kGpuCentre, "batch", {kBatchSweep}},
      {"part3", "Part 3: Model complexity", {kEpoch}, kGpuCentre, "model", {kModelSweep}},
      {"part4", "Part 4: DataLoader workers", {kEpoch}, kGpuCentre, "workers", {{"workers", {"0", "2", "4", "8"}}}},
      // The lab's discussion question 1.
      {"precision",
       "Training precision",
       {kEpoch},
       "batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda/graph:0",
       "precision",
       {{"precision", {"fp32", "tf32", "fp16", "bf16"}}}},
      {"small_models",
       "Small models: the step alone on CPU and GPU",
       {kStep},
       "batch:256/model:Medium/precision:fp32/device:cuda/graph:0",
       "model",
       {{"device", {"cpu", "cuda"}}, kModelSweep, kStepBatchSweep}},
      // 64 KiB to 256 MiB in steps of 4x: from launch-bound copies to the link's rate.
      {"transfers",
       "Host-device transfers",
       {"BM_HostToDevice", "BM_DeviceToHost"},
       "bytes:1048576/pinned:1",
       "bytes",
       {{"bytes", {"65536", "262144", "1048576", "4194304", "16777216", "67108864", "268435456"}},
        {"pinned", {"0", "1"}}}},
  };
}

std::vector<LabPart> CpuParts() {
  return {
      {"part1",
       "Part 1: CPU vs GPU",
       {kEpoch},
       "batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cpu/graph:0",
       "device",
       {{"device", {"cpu"}}}},
      {"part2", "Part 2: Batch size effects", {kEpoch}, kCpuCentre, "batch", {kBatchSweep}},
      {"part3", "Part 3: Model complexity", {kEpoch}, kCpuCentre, "model", {kModelSweep}},
      {"part4", "Part 4: DataLoader workers", {kEpoch}, kCpuCentre, "workers", {{"workers", {"0", "1", "2", "4"}}}},
      // CPU autocast is bf16 only (common/axes.h, UnsupportedPrecision).
      {"precision", "Training precision", {kEpoch}, kCpuCentre, "precision", {{"precision", {"fp32", "bf16"}}}},
      {"small_models",
       "Small models: the step alone on CPU and GPU",
       {kStep},
       "batch:256/model:Medium/precision:fp32/device:cpu/graph:0",
       "model",
       {{"device", {"cpu"}}, kModelSweep, kStepBatchSweep}},
  };
}

// The loader part is Part 4 without the model: BM_DataLoader at Part 4's batch, pin and
// worker counts (LoaderConfigs registers these among the loader settings of every epoch).
LabPart LoaderPart(const LabPart& part4) {
  std::vector<std::string> kept;
  for (absl::string_view axis_value : absl::StrSplit(part4.centre, '/')) {
    if (absl::StartsWith(axis_value, "batch:") || absl::StartsWith(axis_value, "workers:") ||
        absl::StartsWith(axis_value, "pin:")) {
      kept.emplace_back(axis_value);
    }
  }
  return {"loader", "The loader alone", {"BM_DataLoader"}, absl::StrJoin(kept, "/"), part4.vary, part4.sweeps};
}

AxisValues SplitCentre(absl::string_view centre) {
  AxisValues out;
  for (absl::string_view axis_value : absl::StrSplit(centre, '/')) {
    const std::pair<std::string, std::string> kv = absl::StrSplit(axis_value, absl::MaxSplits(':', 1));
    out.push_back(kv);
  }
  return out;
}

void AddPoints(const std::vector<AxisSweep>& sweeps, size_t depth, AxisValues& point, std::vector<AxisValues>& out) {
  if (depth == sweeps.size()) {
    out.push_back(point);
    return;
  }
  for (const std::string& value : sweeps[depth].values) {
    for (auto& [axis, v] : point) {
      if (axis == sweeps[depth].axis) v = value;
    }
    AddPoints(sweeps, depth + 1, point, out);
  }
}

// Parses a point the way the axis flags are parsed (so a declared value is checked exactly
// as a user's would be) into the one configuration it names.
AxisFlags AsAxisFlags(const AxisValues& point) {
  AxisFlags f;
  for (const auto& [axis, value] : point) {
    if (FindAxis(axis) == nullptr) {
      std::fprintf(stderr, "trainbench: lab suite: unknown axis %s\n", axis.c_str());
      std::abort();  // a mistake in the table above; lab_suite_test parses every part
    }
    f[axis].push_back(value);
  }
  return f;
}

template <typename Config>
Config OnlyConfig(const absl::StatusOr<std::vector<Config>>& configs) {
  if (!configs.ok() || configs->size() != 1) {
    std::fprintf(
        stderr, "trainbench: lab suite: %s\n",
        configs.ok() ? "a point names several configurations" : std::string(configs.status().message()).c_str());
    std::abort();  // a mistake in the table above; lab_suite_test parses every part
  }
  return configs->front();
}

bool HasFamily(const LabPart& p, absl::string_view family) {
  return std::find(p.families.begin(), p.families.end(), family) != p.families.end();
}

}  // namespace

std::vector<LabPart> LabSuite(bool cuda_available) {
  std::vector<LabPart> parts = cuda_available ? GpuParts() : CpuParts();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].key == "part4") {
      parts.insert(parts.begin() + static_cast<std::ptrdiff_t>(i) + 1, LoaderPart(parts[i]));
      break;
    }
  }
  return parts;
}

std::vector<AxisValues> PartPoints(const LabPart& part) {
  std::vector<AxisValues> out;
  AxisValues point = SplitCentre(part.centre);
  AddPoints(part.sweeps, 0, point, out);
  return out;
}

std::string LabPartsJson(const std::vector<LabPart>& parts) {
  std::vector<std::string> items;
  for (const LabPart& p : parts) {
    std::vector<std::string> centre, sweeps;
    for (const auto& [axis, value] : SplitCentre(p.centre)) {
      centre.push_back(absl::StrCat(JsonString(axis), ": ", JsonString(value)));
    }
    for (const AxisSweep& s : p.sweeps) {
      sweeps.push_back(absl::StrCat("{\"axis\": ", JsonString(s.axis), ", \"values\": ", JsonStrings(s.values), "}"));
    }
    items.push_back(absl::StrCat("{\"key\": ", JsonString(p.key), ", \"title\": ", JsonString(p.title),
                                 ", \"families\": ", JsonStrings(p.families), ", \"centre\": {",
                                 absl::StrJoin(centre, ", "), "}, \"vary\": ", JsonString(p.vary), ", \"sweeps\": [",
                                 absl::StrJoin(sweeps, ", "), "]}"));
  }
  return absl::StrCat("{\"parts\": [", absl::StrJoin(items, ", "), "]}");
}

namespace {

// The configurations of every point of the parts of `family`, deduplicated, in declaration
// order; parse is EpochConfigs or StepConfigs.
template <typename Config, typename Parse>
std::vector<Config> FamilyPoints(bool cuda_available, absl::string_view family, Parse parse) {
  std::vector<Config> out;
  for (const LabPart& part : LabSuite(cuda_available)) {
    if (!HasFamily(part, family)) continue;
    for (const AxisValues& point : PartPoints(part)) {
      AppendUnique(out, OnlyConfig(parse(AsAxisFlags(point), cuda_available)));
    }
  }
  return out;
}

}  // namespace

std::vector<EpochConfig> DefaultEpochSweep(bool cuda_available) {
  return FamilyPoints<EpochConfig>(cuda_available, kEpoch, EpochConfigs);
}

std::vector<StepConfig> DefaultStepSweep(bool cuda_available) {
  return FamilyPoints<StepConfig>(cuda_available, kStep, StepConfigs);
}

std::vector<TransferConfig> DefaultTransfers(bool cuda_available) {
  std::vector<TransferConfig> out;
  for (const LabPart& part : LabSuite(cuda_available)) {
    for (const std::string& family : part.families) {
      if (family != "BM_HostToDevice" && family != "BM_DeviceToHost") continue;
      for (const AxisValues& point : PartPoints(part)) {
        absl::StatusOr<TransferConfig> c = ConfigAt<TransferConfig>(point);
        if (!c.ok()) {
          std::fprintf(stderr, "trainbench: lab suite: %s\n", std::string(c.status().message()).c_str());
          std::abort();  // a mistake in the table above; lab_suite_test parses every part
        }
        c->to_device = family == "BM_HostToDevice";
        AppendUnique(out, *c);
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<EpochConfig>> EpochConfigs(const AxisFlags& f, bool cuda_available) {
  if (f.empty()) return DefaultEpochSweep(cuda_available);
  return ConfigsFor<EpochConfig>(f, cuda_available);
}

absl::StatusOr<std::vector<StepConfig>> StepConfigs(const AxisFlags& f, bool cuda_available) {
  if (f.empty()) return DefaultStepSweep(cuda_available);
  return ConfigsFor<StepConfig>(f, cuda_available);
}

RegistrationOrder OrderForRegistration(const std::vector<EpochConfig>& epochs, const std::vector<StepConfig>& steps) {
  RegistrationOrder r;
  for (const EpochConfig& e : epochs) (e.graph ? r.graph_epochs : r.epochs).push_back(e);
  for (const StepConfig& s : steps) (s.graph ? r.graph_steps : r.steps).push_back(s);
  return r;
}

}  // namespace trainbench
