#include "bench/suite/axis_table.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/axes.h"
#include "common/find_by_name.h"
#include "common/json.h"
#include "models/model_table.h"

namespace trainbench {
namespace {

// Largest batch accepted: far above what fits a GPU, small enough not to overflow counts.
constexpr int64_t kMaxBatch = int64_t{1} << 24;
constexpr int64_t kMaxWorkers = 256;

absl::StatusOr<std::string> IntIn(absl::string_view flag, absl::string_view v, int64_t lo, int64_t hi) {
  int64_t x = 0;
  if (!absl::SimpleAtoi(v, &x)) return FlagError(flag, v, "not an integer");
  if (x < lo || x > hi) return FlagError(flag, v, absl::StrCat("out of range ", lo, "..", hi));
  return absl::StrCat(x);
}

template <typename T>
absl::StatusOr<std::string> Spelt(absl::StatusOr<T> parsed, absl::string_view (*name)(T)) {
  if (!parsed.ok()) return parsed.status();
  return std::string(name(*parsed));
}

absl::string_view OnCpuOnly(absl::string_view value, const AxisValues& point, absl::string_view why) {
  return value == "1" && ValueOf(point, "device") == "cpu" ? why : absl::string_view();
}

absl::string_view Never(absl::string_view, const AxisValues&) { return {}; }

std::string CudaOrCpu(bool cuda, const char* with_gpu, const char* without) { return cuda ? with_gpu : without; }

// The table. Order: the product's, outer to inner; an axis's unset value may read the axes
// above it (pin reads device).
const AxisSpec kAxes[] = {
    {"batch",
     "Batch sizes, e.g. 16,64 (not given: 256).",
     [](absl::string_view v, bool) { return IntIn("batch", v, 1, kMaxBatch); },
     [](const AxisValues&, bool) { return std::string("256"); },
     Never,
     false,
     {}},
    {"model",
     "Models: Small, Medium, Large (not given: Medium).",
     [](absl::string_view v, bool) { return Spelt(ParseModel(v), ModelName); },
     [](const AxisValues&, bool) { return std::string("Medium"); },
     Never,
     false,
     {}},
    {"workers",
     "Loader threads, e.g. 0,4 (not given: 4 with a GPU, 2 without).",
     [](absl::string_view v, bool) { return IntIn("workers", v, 0, kMaxWorkers); },
     [](const AxisValues&, bool cuda) { return CudaOrCpu(cuda, "4", "2"); },
     Never,
     false,
     {}},
    {"precision",
     "Precisions: fp32, tf32, fp16, bf16 (not given: fp32).",
     [](absl::string_view v, bool) { return Spelt(ParsePrecision(v), PrecisionName); },
     [](const AxisValues&, bool) { return std::string("fp32"); },
     Never,
     false,
     {}},
    {"device",
     "Devices: cpu, cuda (not given: cuda with a GPU, cpu without).",
     [](absl::string_view v, bool cuda) -> absl::StatusOr<std::string> {
       absl::StatusOr<DeviceKind> d = ParseDevice(v);
       if (d.ok() && *d == DeviceKind::kCuda && !cuda) {
         return FlagError("device", "cuda", "no CUDA GPU is available on this machine");
       }
       return Spelt(d, DeviceName);
     },
     [](const AxisValues&, bool cuda) { return CudaOrCpu(cuda, "cuda", "cpu"); },
     Never,
     false,
     {}},
    {"pin",
     "Pinned host memory for batches: 0, 1 (not given: 1 on cuda, 0 on cpu).",
     [](absl::string_view v, bool) { return IntIn("pin", v, 0, 1); },
     [](const AxisValues& p, bool) { return std::string(ValueOf(p, "device") == "cuda" ? "1" : "0"); },
     [](absl::string_view v, const AxisValues& p) {
       return OnCpuOnly(v, p, "pinned memory exists only with --device=cuda");
     },
     false,
     {}},
    {"graph", "CUDA graph replay of each step: 0, 1 (not given: 0; 1 only with cuda, not in the default suite).",
     [](absl::string_view v, bool) { return IntIn("graph", v, 0, 1); },
     [](const AxisValues&, bool) { return std::string("0"); },
     [](absl::string_view v, const AxisValues& p) {
       return OnCpuOnly(v, p, "CUDA graphs exist only with --device=cuda");
     },
     true, "0"},
};

// Axes of names that are not flags: the transfers' and the world's.
struct NameAxis {
  absl::string_view name, absent;
};
constexpr NameAxis kNameAxes[] = {{"bytes", {}}, {"pinned", {}}, {"ranks", "1"}};

template <typename T>
void AppendUnique(std::vector<T>& out, const T& v) {
  if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
}

bool Takes(absl::Span<const absl::string_view> axes, absl::string_view axis) {
  return std::find(axes.begin(), axes.end(), axis) != axes.end();
}

}  // namespace

absl::Span<const AxisSpec> Axes() { return kAxes; }

const AxisSpec* FindAxis(absl::string_view name) { return FindByName(Axes(), name); }

absl::string_view ValueOf(const AxisValues& point, absl::string_view axis) {
  for (const auto& [a, v] : point) {
    if (a == axis) return v;
  }
  return {};
}

absl::StatusOr<std::vector<AxisValues>> Points(absl::Span<const absl::string_view> axes, const AxisFlags& flags,
                                               bool cuda_available) {
  // The family's axes in product order, each with its given values spelt (empty: not given).
  std::vector<std::pair<const AxisSpec*, std::vector<std::string>>> dims;
  for (const AxisSpec& spec : kAxes) {
    if (!Takes(axes, spec.name)) continue;
    std::vector<std::string> values;
    if (const auto it = flags.find(std::string(spec.name)); it != flags.end()) {
      for (const std::string& v : it->second) {
        absl::StatusOr<std::string> spelt = spec.spell(v, cuda_available);
        if (!spelt.ok()) return spelt.status();
        AppendUnique(values, *spelt);
      }
    }
    dims.emplace_back(&spec, std::move(values));
  }
  // Odometer over the given values; an axis not given has one slot, its unset value.
  std::vector<size_t> at(dims.size(), 0);
  std::vector<AxisValues> product;
  // For each given (axis, value): whether some point with it runs, else why not.
  std::map<std::pair<std::string, std::string>, std::string> unused;
  for (bool more = true; more;) {
    AxisValues point;
    std::string why;
    std::pair<std::string, std::string> excluded_by;
    for (size_t i = 0; i < dims.size(); ++i) {
      const auto& [spec, values] = dims[i];
      std::string value = values.empty() ? spec->unset(point, cuda_available) : values[at[i]];
      point.emplace_back(std::string(spec->name), value);
    }
    for (size_t i = 0; i < dims.size() && why.empty(); ++i) {
      const std::string& value = point[i].second;
      why = std::string(dims[i].first->excluded(value, point));
      if (!why.empty()) excluded_by = {point[i].first, value};
    }
    if (why.empty()) {
      AppendUnique(product, point);
      for (size_t i = 0; i < dims.size(); ++i) unused[point[i]] = "";
    } else if (!unused.count(excluded_by)) {
      unused[excluded_by] = why;
    }
    more = false;
    for (size_t i = dims.size(); i-- > 0;) {
      if (++at[i] < std::max<size_t>(1, dims[i].second.size())) {
        more = true;
        break;
      }
      at[i] = 0;
    }
  }
  // A value no point could run with: an error where its axis says so, else only when nothing
  // runs at all.
  for (const auto& [axis_value, why] : unused) {
    if (why.empty()) continue;
    if (FindAxis(axis_value.first)->unrunnable_value_is_error || product.empty()) {
      return FlagError(axis_value.first, axis_value.second, why);
    }
  }
  // Back to the family's name order.
  for (AxisValues& point : product) {
    AxisValues named;
    for (absl::string_view axis : axes) named.emplace_back(std::string(axis), std::string(ValueOf(point, axis)));
    point = std::move(named);
  }
  return product;
}

std::string AxesJson(const std::map<std::string, std::vector<std::string>>& families_by_axis) {
  std::vector<std::string> items;
  auto item = [&](absl::string_view name, absl::string_view help, absl::string_view absent) {
    const auto it = families_by_axis.find(std::string(name));
    const std::vector<std::string> families = it == families_by_axis.end() ? std::vector<std::string>{} : it->second;
    items.push_back(absl::StrCat("{\"name\": ", JsonString(name), ", \"help\": ", JsonString(help),
                                 ", \"families\": ", JsonStrings(families),
                                 ", \"absent\": ", absent.empty() ? "null" : JsonString(absent), "}"));
  };
  for (const AxisSpec& a : kAxes) item(a.name, a.help, a.absent);
  for (const NameAxis& a : kNameAxes) item(a.name, "", a.absent);
  return absl::StrCat("{\"axes\": [", absl::StrJoin(items, ", "), "]}");
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

}  // namespace trainbench
