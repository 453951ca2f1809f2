// Each family's configuration, the axes it takes (bound to the configuration's fields, in the
// order of its benchmark names) and its benchmark name, an interface: results, tools and users'
// filters key on them. The axes themselves (flags, checks, unset values) are bench/suite/axis_table.h.
// Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bench/suite/axis_table.h"
#include "common/axes.h"
#include "models/model_table.h"

namespace trainbench {

// One axis of a family bound to a field of its configuration.
template <typename Config>
struct FieldAxis {
  std::string axis;
  std::function<std::string(const Config&)> get;        // the value as spelt in names
  std::function<bool(Config&, absl::string_view)> set;  // from a spelt value; false if it is not one
};

// The field's spelling in names and back: integers as digits, bools as 0/1, the vocabulary of
// common/axes.h by name.
std::string AxisText(int64_t v);
std::string AxisText(int v);
std::string AxisText(bool v);
std::string AxisText(double v);  // shortest form: 0.1, 0
std::string AxisText(ModelKind v);
std::string AxisText(Precision v);
std::string AxisText(DeviceKind v);
bool FromAxisText(absl::string_view s, int64_t* v);
bool FromAxisText(absl::string_view s, int* v);
bool FromAxisText(absl::string_view s, bool* v);
bool FromAxisText(absl::string_view s, double* v);
bool FromAxisText(absl::string_view s, ModelKind* v);
bool FromAxisText(absl::string_view s, Precision* v);
bool FromAxisText(absl::string_view s, DeviceKind* v);

template <typename Config, typename T>
FieldAxis<Config> Bind(std::string axis, T Config::*field) {
  return {std::move(axis), [field](const Config& c) { return AxisText(c.*field); },
          [field](Config& c, absl::string_view s) { return FromAxisText(s, &(c.*field)); }};
}

// The configuration's values in name order.
template <typename Config>
AxisValues ValuesOf(const Config& c) {
  AxisValues out;
  for (const FieldAxis<Config>& f : Config::Axes()) out.emplace_back(f.axis, f.get(c));
  return out;
}

// "family/axis:value/axis:value"
std::string JoinName(absl::string_view family, const AxisValues& values);

// ---- The families' configurations.

// One BM_TrainEpoch configuration. pin = batches in pinned host memory, copied non_blocking.
// graph = each full-size step replayed from one CUDA graph capture (CUDA only).
struct EpochConfig {
  static constexpr char kFamily[] = "BM_TrainEpoch";
  int64_t batch = 256;
  ModelKind model = ModelKind::kMedium;
  int workers = 0;
  Precision precision = Precision::kFp32;
  bool pin = false;
  DeviceKind device = DeviceKind::kCpu;
  bool graph = false;

  // Its axes, in the order of its names: each bound to its field.
  static const std::vector<FieldAxis<EpochConfig>>& Axes() {
    using C = EpochConfig;
    static const auto* const axes = new std::vector<FieldAxis<C>>{
        Bind("batch", &C::batch),         Bind("model", &C::model), Bind("workers", &C::workers),
        Bind("precision", &C::precision), Bind("pin", &C::pin),     Bind("device", &C::device),
        Bind("graph", &C::graph)};
    return *axes;
  }
  bool operator==(const EpochConfig& o) const { return ValuesOf(*this) == ValuesOf(o); }
};

// One BM_TrainStep configuration: optimizer steps on a batch already on the device.
struct StepConfig {
  static constexpr char kFamily[] = "BM_TrainStep";
  int64_t batch = 256;
  ModelKind model = ModelKind::kMedium;
  Precision precision = Precision::kFp32;
  DeviceKind device = DeviceKind::kCpu;
  bool graph = false;  // the step replayed from one CUDA graph capture (CUDA only)

  // Its axes, in the order of its names: each bound to its field.
  static const std::vector<FieldAxis<StepConfig>>& Axes() {
    using C = StepConfig;
    static const auto* const axes = new std::vector<FieldAxis<C>>{Bind("batch", &C::batch), Bind("model", &C::model),
                                                                  Bind("precision", &C::precision),
                                                                  Bind("device", &C::device), Bind("graph", &C::graph)};
    return *axes;
  }
  bool operator==(const StepConfig& o) const { return ValuesOf(*this) == ValuesOf(o); }
};

// One BM_DataLoader configuration: the loader alone (no model, no copy), building batches in
// pinned (pin) or pageable host memory.
struct LoaderConfig {
  static constexpr char kFamily[] = "BM_DataLoader";
  int64_t batch = 256;
  int workers = 0;
  bool pin = false;

  // Its axes, in the order of its names: each bound to its field.
  static const std::vector<FieldAxis<LoaderConfig>>& Axes() {
    using C = LoaderConfig;
    static const auto* const axes =
        new std::vector<FieldAxis<C>>{Bind("batch", &C::batch), Bind("workers", &C::workers), Bind("pin", &C::pin)};
    return *axes;
  }
  bool operator==(const LoaderConfig& o) const { return ValuesOf(*this) == ValuesOf(o); }
};

// One BM_HostToDevice (to_device) or BM_DeviceToHost copy of `bytes`, from or to pinned or
// pageable host memory.
struct TransferConfig {
  bool to_device = true;
  int64_t bytes = 0;
  bool pinned = false;

  // Its axes, in the order of its names: each bound to its field.
  static const std::vector<FieldAxis<TransferConfig>>& Axes() {
    using C = TransferConfig;
    static const auto* const axes = new std::vector<FieldAxis<C>>{Bind("bytes", &C::bytes), Bind("pinned", &C::pinned)};
    return *axes;
  }
  bool operator==(const TransferConfig& o) const { return to_device == o.to_device && ValuesOf(*this) == ValuesOf(o); }
};

// "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda/graph:0"
std::string BenchmarkName(const EpochConfig& c);
// The data-parallel epoch of a world of ranks > 1: BenchmarkName(c) + "/ranks:8" (batch is per
// rank). A world of one keeps BenchmarkName(c).
std::string DataParallelBenchmarkName(const EpochConfig& c, int ranks);
// "BM_TrainStep/batch:256/model:Large/precision:fp32/device:cuda/graph:0"
std::string BenchmarkName(const StepConfig& c);
// "BM_DataLoader/batch:256/workers:4/pin:1"
std::string BenchmarkName(const LoaderConfig& c);
// "BM_HostToDevice/bytes:65536/pinned:1"
std::string BenchmarkName(const TransferConfig& c);

// The configuration a point names (its axes a superset of Config's); an error names the axis.
template <typename Config>
absl::StatusOr<Config> ConfigAt(const AxisValues& point) {
  Config c;
  for (const FieldAxis<Config>& f : Config::Axes()) {
    const absl::string_view v = ValueOf(point, f.axis);
    if (!f.set(c, v)) return absl::InvalidArgumentError(absl::StrCat(f.axis, ":", v, ": not a value of ", f.axis));
  }
  return c;
}

// The configurations of Config's family for the axis flags given (bench/suite/axis_table.h, Points),
// in product order.
template <typename Config>
absl::StatusOr<std::vector<Config>> ConfigsFor(const AxisFlags& flags, bool cuda_available) {
  std::vector<absl::string_view> axes;
  for (const FieldAxis<Config>& f : Config::Axes()) axes.push_back(f.axis);
  absl::StatusOr<std::vector<AxisValues>> points = Points(axes, flags, cuda_available);
  if (!points.ok()) return points.status();
  std::vector<Config> out;
  for (const AxisValues& p : *points) {
    absl::StatusOr<Config> c = ConfigAt<Config>(p);
    if (!c.ok()) return c.status();
    out.push_back(*c);
  }
  return out;
}

// axis -> the families whose names carry it, for the "axes" context (AxesJson).
std::map<std::string, std::vector<std::string>> FamiliesByAxis();

}  // namespace trainbench
