#include "bench/lab_suite.h"

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

// Largest batch accepted: far above what fits a GPU, small enough not to overflow counts.
constexpr int64_t kMaxBatch = int64_t{1} << 24;
constexpr int kMaxWorkers = 256;

template <typename T>
void AppendUnique(std::vector<T>& out, const T& v) {
  if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
}

absl::StatusOr<std::vector<int64_t>> ParseInts(absl::string_view flag,
                                               const std::vector<std::string>& values,
                                               int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  for (const std::string& v : values) {
    int64_t x = 0;
    if (!absl::SimpleAtoi(v, &x)) return FlagError(flag, v, "not an integer");
    if (x < lo || x > hi) {
      return FlagError(flag, v, absl::StrCat("out of range ", lo, "..", hi));
    }
    AppendUnique(out, x);
  }
  return out;
}

template <typename T, typename Parser>
absl::StatusOr<std::vector<T>> ParseEach(const std::vector<std::string>& values, Parser parse) {
  std::vector<T> out;
  for (const std::string& v : values) {
    absl::StatusOr<T> x = parse(v);
    if (!x.ok()) return x.status();
    AppendUnique(out, *x);
  }
  return out;
}

// Axis values shared by both families, parsed and checked; empty vectors mean "not given".
struct ParsedAxes {
  std::vector<int64_t> graph;  // 0, 1
  std::vector<int64_t> batch;
  std::vector<ModelKind> model;
  std::vector<Precision> precision;
  std::vector<DeviceKind> device;
};

absl::StatusOr<ParsedAxes> ParseSharedAxes(const AxisFlags& f, bool cuda_available) {
  ParsedAxes a;
  auto batch = ParseInts("batch", f.batch, 1, kMaxBatch);
  if (!batch.ok()) return batch.status();
  a.batch = *batch;
  auto model = ParseEach<ModelKind>(f.model, ParseModel);
  if (!model.ok()) return model.status();
  a.model = *model;
  auto precision = ParseEach<Precision>(f.precision, ParsePrecision);
  if (!precision.ok()) return precision.status();
  a.precision = *precision;
  auto device = ParseEach<DeviceKind>(f.device, ParseDevice);
  if (!device.ok()) return device.status();
  a.device = *device;
  for (DeviceKind d : a.device) {
    if (d == DeviceKind::kCuda && !cuda_available) {
      return FlagError("device", "cuda", "no CUDA GPU is available on this machine");
    }
  }
  if (a.device.empty()) a.device = {cuda_available ? DeviceKind::kCuda : DeviceKind::kCpu};
  auto graph = ParseInts("graph", f.graph, 0, 1);
  if (!graph.ok()) return graph.status();
  a.graph = graph->empty() ? std::vector<int64_t>{0} : *graph;
  if (std::find(a.graph.begin(), a.graph.end(), 1) != a.graph.end() &&
      std::find(a.device.begin(), a.device.end(), DeviceKind::kCuda) == a.device.end()) {
    return FlagError("graph", "1", "CUDA graphs exist only with --device=cuda");
  }
  if (a.batch.empty()) a.batch = {256};
  if (a.model.empty()) a.model = {ModelKind::kMedium};
  if (a.precision.empty()) a.precision = {Precision::kFp32};
  return a;
}

}  // namespace

std::string BenchmarkName(const EpochConfig& c) {
  return absl::StrCat("BM_TrainEpoch/batch:", c.batch, "/model:", ModelName(c.model),
                      "/workers:", c.workers, "/precision:", PrecisionName(c.precision),
                      "/pin:", c.pin ? 1 : 0, "/device:", DeviceName(c.device),
                      "/graph:", c.graph ? 1 : 0);
}

std::string DataParallelBenchmarkName(const EpochConfig& c, int ranks) {
  return absl::StrCat(BenchmarkName(c), "/ranks:", ranks);
}

std::string BenchmarkName(const StepConfig& c) {
  return absl::StrCat("BM_TrainStep/batch:", c.batch, "/model:", ModelName(c.model),
                      "/precision:", PrecisionName(c.precision), "/device:", DeviceName(c.device),
                      "/graph:", c.graph ? 1 : 0);
}

std::string BenchmarkName(const LoaderConfig& c) {
  return absl::StrCat("BM_DataLoader/batch:", c.batch, "/workers:", c.workers, "/pin:", c.pin ? 1 : 0);
}

std::string BenchmarkName(const TransferConfig& c) {
  return absl::StrCat(c.to_device ? "BM_HostToDevice" : "BM_DeviceToHost", "/bytes:", c.bytes,
                      "/pinned:", c.pinned ? 1 : 0);
}

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
      {"part1", "Part 1: CPU vs GPU", {kEpoch},
       "batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cuda/graph:0",  // the lab's plain loop
       "device", {{"device", {"cpu", "cuda"}}}},
      {"part2", "Part 2: Batch size effects", {kEpoch}, kGpuCentre, "batch", {kBatchSweep}},
      {"part3", "Part 3: Model complexity", {kEpoch}, kGpuCentre, "model", {kModelSweep}},
      {"part4", "Part 4: DataLoader workers", {kEpoch}, kGpuCentre,
       "workers", {{"workers", {"0", "2", "4", "8"}}}},
      // The lab's discussion question 1.
      {"precision", "Training precision", {kEpoch},
       "batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda/graph:0",
       "precision", {{"precision", {"fp32", "tf32", "fp16", "bf16"}}}},
      {"small_models", "Small models: the step alone on CPU and GPU", {kStep},
       "batch:256/model:Medium/precision:fp32/device:cuda/graph:0",
       "model", {{"device", {"cpu", "cuda"}}, kModelSweep, kStepBatchSweep}},
      // 64 KiB to 256 MiB in steps of 4x: from launch-bound copies to the link's rate.
      {"transfers", "Host-device transfers", {"BM_HostToDevice", "BM_DeviceToHost"},
       "bytes:1048576/pinned:1",
       "bytes", {{"bytes", {"65536", "262144", "1048576", "4194304", "16777216", "67108864",
                            "268435456"}},
                 {"pinned", {"0", "1"}}}},
  };
}

std::vector<LabPart> CpuParts() {
  return {
      {"part1", "Part 1: CPU vs GPU", {kEpoch},
       "batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cpu/graph:0",
       "device", {{"device", {"cpu"}}}},
      {"part2", "Part 2: Batch size effects", {kEpoch}, kCpuCentre, "batch", {kBatchSweep}},
      {"part3", "Part 3: Model complexity", {kEpoch}, kCpuCentre, "model", {kModelSweep}},
      {"part4", "Part 4: DataLoader workers", {kEpoch}, kCpuCentre,
       "workers", {{"workers", {"0", "1", "2", "4"}}}},
      // CPU autocast is bf16 only (common/axes.h, UnsupportedPrecision).
      {"precision", "Training precision", {kEpoch}, kCpuCentre,
       "precision", {{"precision", {"fp32", "bf16"}}}},
      {"small_models", "Small models: the step alone on CPU and GPU", {kStep},
       "batch:256/model:Medium/precision:fp32/device:cpu/graph:0",
       "model", {{"device", {"cpu"}}, kModelSweep, kStepBatchSweep}},
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
  return {"loader", "The loader alone", {"BM_DataLoader"}, absl::StrJoin(kept, "/"),
          part4.vary, part4.sweeps};
}

AxisValues SplitCentre(absl::string_view centre) {
  AxisValues out;
  for (absl::string_view axis_value : absl::StrSplit(centre, '/')) {
    const std::pair<std::string, std::string> kv = absl::StrSplit(axis_value, absl::MaxSplits(':', 1));
    out.push_back(kv);
  }
  return out;
}

void AddPoints(const std::vector<AxisSweep>& sweeps, size_t depth, AxisValues& point,
               std::vector<AxisValues>& out) {
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
    std::vector<std::string>* slot = axis == "batch"       ? &f.batch
                                     : axis == "model"     ? &f.model
                                     : axis == "workers"   ? &f.workers
                                     : axis == "precision" ? &f.precision
                                     : axis == "pin"       ? &f.pin
                                     : axis == "device"    ? &f.device
                                     : axis == "graph"     ? &f.graph
                                                           : nullptr;
    if (slot == nullptr) {
      std::fprintf(stderr, "trainbench: lab suite: unknown axis %s\n", axis.c_str());
      std::abort();  // a mistake in the table above; lab_suite_test parses every part
    }
    slot->push_back(value);
  }
  return f;
}

template <typename Config>
Config OnlyConfig(const absl::StatusOr<std::vector<Config>>& configs) {
  if (!configs.ok() || configs->size() != 1) {
    std::fprintf(stderr, "trainbench: lab suite: %s\n",
                 configs.ok() ? "a point names several configurations"
                              : std::string(configs.status().message()).c_str());
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
      sweeps.push_back(absl::StrCat("{\"axis\": ", JsonString(s.axis), ", \"values\": ",
                                    JsonStrings(s.values), "}"));
    }
    items.push_back(absl::StrCat(
        "{\"key\": ", JsonString(p.key), ", \"title\": ", JsonString(p.title),
        ", \"families\": ", JsonStrings(p.families), ", \"centre\": {", absl::StrJoin(centre, ", "),
        "}, \"vary\": ", JsonString(p.vary), ", \"sweeps\": [", absl::StrJoin(sweeps, ", "), "]}"));
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
        TransferConfig c;
        c.to_device = family == "BM_HostToDevice";
        for (const auto& [axis, value] : point) {
          int64_t x = 0;
          if (!absl::SimpleAtoi(value, &x) || (axis != "bytes" && axis != "pinned")) {
            std::fprintf(stderr, "trainbench: lab suite: bad transfer axis %s:%s\n", axis.c_str(),
                         value.c_str());
            std::abort();  // a mistake in the table above; lab_suite_test parses every part
          }
          if (axis == "bytes") c.bytes = x;
          if (axis == "pinned") c.pinned = x != 0;
        }
        AppendUnique(out, c);
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<EpochConfig>> EpochConfigs(const AxisFlags& f, bool cuda_available) {
  if (!f.any()) return DefaultEpochSweep(cuda_available);
  absl::StatusOr<ParsedAxes> axes = ParseSharedAxes(f, cuda_available);
  if (!axes.ok()) return axes.status();
  auto workers = ParseInts("workers", f.workers, 0, kMaxWorkers);
  if (!workers.ok()) return workers.status();
  auto pins = ParseInts("pin", f.pin, 0, 1);
  if (!pins.ok()) return pins.status();
  std::vector<int64_t> worker_values = *workers;
  if (worker_values.empty()) worker_values = {cuda_available ? 4 : 2};
  std::vector<EpochConfig> out;
  for (int64_t batch : axes->batch) {
    for (ModelKind model : axes->model) {
      for (int64_t w : worker_values) {
        for (Precision precision : axes->precision) {
          for (DeviceKind device : axes->device) {
            // Not given: pinned on cuda (the lab's setting), pageable on cpu.
            std::vector<int64_t> pin_values = *pins;
            if (pin_values.empty()) pin_values = {device == DeviceKind::kCuda ? 1 : 0};
            for (int64_t pin : pin_values) {
              if (pin == 1 && device == DeviceKind::kCpu) continue;  // no pinned memory on cpu
              for (int64_t graph : axes->graph) {
                if (graph == 1 && device == DeviceKind::kCpu) continue;  // no graphs on cpu
                AppendUnique(out, EpochConfig{batch, model, static_cast<int>(w), precision,
                                              pin == 1, device, graph == 1});
              }
            }
          }
        }
      }
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("--pin=1: pinned memory exists only with --device=cuda");
  }
  return out;
}

absl::StatusOr<std::vector<StepConfig>> StepConfigs(const AxisFlags& f, bool cuda_available) {
  if (!f.any()) return DefaultStepSweep(cuda_available);
  absl::StatusOr<ParsedAxes> axes = ParseSharedAxes(f, cuda_available);
  if (!axes.ok()) return axes.status();
  std::vector<StepConfig> out;
  for (int64_t batch : axes->batch) {
    for (ModelKind model : axes->model) {
      for (Precision precision : axes->precision) {
        for (DeviceKind device : axes->device) {
          for (int64_t graph : axes->graph) {
            if (graph == 1 && device == DeviceKind::kCpu) continue;  // no graphs on cpu
            AppendUnique(out, StepConfig{batch, model, precision, device, graph == 1});
          }
        }
      }
    }
  }
  return out;
}

RegistrationOrder OrderForRegistration(const std::vector<EpochConfig>& epochs,
                                       const std::vector<StepConfig>& steps) {
  RegistrationOrder r;
  for (const EpochConfig& e : epochs) (e.graph ? r.graph_epochs : r.epochs).push_back(e);
  for (const StepConfig& s : steps) (s.graph ? r.graph_steps : r.steps).push_back(s);
  return r;
}

std::vector<std::string> SplitAxisValues(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const std::string& r : raw) {
    for (absl::string_view piece : absl::StrSplit(r, ',', absl::SkipWhitespace())) {
      out.emplace_back(absl::StripAsciiWhitespace(piece));
    }
  }
  return out;
}

absl::Status CheckAxisValue(absl::string_view flag, absl::string_view value) {
  if (absl::StripAsciiWhitespace(value).empty()) {
    return FlagError(flag, value, "empty value (leave the flag out for the lab sweep)");
  }
  for (absl::string_view piece : absl::StrSplit(value, ',')) {
    if (absl::StripAsciiWhitespace(piece).empty()) return FlagError(flag, value, "empty value in the list");
  }
  return absl::OkStatus();
}

absl::Status CheckCpuThreads(int64_t value, int cores) {
  const int64_t most = int64_t{4} * std::max(1, cores);
  if (value < 0 || value > most) {
    return FlagError("cpu_threads", absl::StrCat(value),
                     absl::StrCat("out of range 0..", most, " (4x the ", std::max(1, cores), " cores)"));
  }
  return absl::OkStatus();
}

}  // namespace trainbench
