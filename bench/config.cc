#include "bench/config.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace trainbench {
namespace {

// Largest batch accepted: far above what fits a GPU, small enough not to overflow counts.
constexpr int64_t kMaxBatch = int64_t{1} << 24;
constexpr int kMaxWorkers = 256;

template <typename T>
void AppendUnique(std::vector<T>& out, const T& v) {
  if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
}

absl::Status FlagError(absl::string_view flag, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", value, ": ", why));
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

absl::string_view ModelName(ModelKind m) {
  switch (m) {
    case ModelKind::kSmall: return "Small";
    case ModelKind::kMedium: return "Medium";
    case ModelKind::kLarge: return "Large";
  }
  return "?";
}

absl::string_view PrecisionName(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kTf32: return "tf32";
    case Precision::kFp16: return "fp16";
    case Precision::kBf16: return "bf16";
  }
  return "?";
}

absl::string_view DeviceName(DeviceKind d) { return d == DeviceKind::kCuda ? "cuda" : "cpu"; }

absl::StatusOr<ModelKind> ParseModel(absl::string_view s) {
  for (ModelKind m : {ModelKind::kSmall, ModelKind::kMedium, ModelKind::kLarge}) {
    if (absl::EqualsIgnoreCase(s, ModelName(m))) return m;
  }
  return FlagError("model", s, "unknown model (expected Small, Medium or Large)");
}

absl::StatusOr<Precision> ParsePrecision(absl::string_view s) {
  for (Precision p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16}) {
    if (absl::EqualsIgnoreCase(s, PrecisionName(p))) return p;
  }
  return FlagError("precision", s, "unknown precision (expected fp32, tf32, fp16 or bf16)");
}

absl::StatusOr<DeviceKind> ParseDevice(absl::string_view s) {
  if (absl::EqualsIgnoreCase(s, "cpu")) return DeviceKind::kCpu;
  if (absl::EqualsIgnoreCase(s, "cuda")) return DeviceKind::kCuda;
  return FlagError("device", s, "unknown device (expected cpu or cuda)");
}

absl::string_view AdamName(AdamKind a) { return a == AdamKind::kLoop ? "loop" : "fused"; }

absl::StatusOr<AdamKind> ParseAdam(absl::string_view s) {
  if (absl::EqualsIgnoreCase(s, "fused")) return AdamKind::kFused;
  if (absl::EqualsIgnoreCase(s, "loop")) return AdamKind::kLoop;
  return FlagError("adam", s, "unknown Adam update (expected fused or loop)");
}

std::string BenchmarkName(const EpochConfig& c) {
  return absl::StrCat("BM_TrainEpoch/batch:", c.batch, "/model:", ModelName(c.model),
                      "/workers:", c.workers, "/precision:", PrecisionName(c.precision),
                      "/pin:", c.pin ? 1 : 0, "/device:", DeviceName(c.device),
                      "/graph:", c.graph ? 1 : 0);
}

std::string BenchmarkName(const StepConfig& c) {
  return absl::StrCat("BM_TrainStep/batch:", c.batch, "/model:", ModelName(c.model),
                      "/precision:", PrecisionName(c.precision), "/device:", DeviceName(c.device),
                      "/graph:", c.graph ? 1 : 0);
}

std::string BenchmarkName(const LoaderConfig& c) {
  return absl::StrCat("BM_DataLoader/batch:", c.batch, "/workers:", c.workers, "/pin:", c.pin ? 1 : 0);
}

std::vector<LoaderConfig> LoaderConfigs(const std::vector<EpochConfig>& epoch_configs) {
  std::vector<LoaderConfig> out;
  for (const EpochConfig& e : epoch_configs) AppendUnique(out, LoaderConfig{e.batch, e.workers, e.pin});
  return out;
}

std::vector<EpochConfig> DefaultEpochSweep(bool cuda_available) {
  std::vector<EpochConfig> out;
  const auto add = [&out](int64_t batch, ModelKind model, int workers, Precision precision,
                          bool pin, DeviceKind device) {
    AppendUnique(out, EpochConfig{batch, model, workers, precision, pin, device});
  };
  const ModelKind kAllModels[] = {ModelKind::kSmall, ModelKind::kMedium, ModelKind::kLarge};
  if (cuda_available) {
    const DeviceKind gpu = DeviceKind::kCuda;
    // Part 1: CPU vs GPU, the lab's plain loop.
    add(64, ModelKind::kMedium, 0, Precision::kFp32, false, DeviceKind::kCpu);
    add(64, ModelKind::kMedium, 0, Precision::kFp32, false, gpu);
    // Part 2: batch size.
    for (int64_t b : {16, 64, 256, 1024}) add(b, ModelKind::kMedium, 4, Precision::kFp32, true, gpu);
    // Part 3: model complexity.
    for (ModelKind m : kAllModels) add(256, m, 4, Precision::kFp32, true, gpu);
    // Part 4: loader workers.
    for (int w : {0, 2, 4, 8}) add(256, ModelKind::kMedium, w, Precision::kFp32, true, gpu);
    // Precision (the lab's discussion question 1).
    for (Precision p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16}) {
      add(256, ModelKind::kLarge, 4, p, true, gpu);
    }
    return out;
  }
  // CPU-sized: 2 cores here, so loader workers beyond 2 only show oversubscription, and the
  // pinned-memory axis does not exist.
  const DeviceKind cpu = DeviceKind::kCpu;
  add(64, ModelKind::kMedium, 0, Precision::kFp32, false, cpu);
  for (int64_t b : {16, 64, 256, 1024}) add(b, ModelKind::kMedium, 2, Precision::kFp32, false, cpu);
  for (ModelKind m : kAllModels) add(256, m, 2, Precision::kFp32, false, cpu);
  for (int w : {0, 1, 2, 4}) add(256, ModelKind::kMedium, w, Precision::kFp32, false, cpu);
  add(256, ModelKind::kMedium, 2, Precision::kBf16, false, cpu);
  return out;
}

std::vector<StepConfig> DefaultStepSweep(bool cuda_available) {
  std::vector<StepConfig> out;
  std::vector<DeviceKind> devices = {DeviceKind::kCpu};
  if (cuda_available) devices.push_back(DeviceKind::kCuda);
  for (DeviceKind d : devices) {
    for (ModelKind m : {ModelKind::kSmall, ModelKind::kMedium, ModelKind::kLarge}) {
      for (int64_t b : {16, 256}) AppendUnique(out, StepConfig{b, m, Precision::kFp32, d});
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
