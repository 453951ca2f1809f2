#include "bench/suite/configs.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace trainbench {

std::string AxisText(int64_t v) { return absl::StrCat(v); }
std::string AxisText(int v) { return absl::StrCat(v); }
std::string AxisText(bool v) { return v ? "1" : "0"; }
std::string AxisText(double v) { return absl::StrCat(v); }
std::string AxisText(ModelKind v) { return std::string(ModelName(v)); }
std::string AxisText(Precision v) { return std::string(PrecisionName(v)); }
std::string AxisText(DeviceKind v) { return std::string(DeviceName(v)); }

bool FromAxisText(absl::string_view s, int64_t* v) { return absl::SimpleAtoi(s, v); }
bool FromAxisText(absl::string_view s, int* v) { return absl::SimpleAtoi(s, v); }
bool FromAxisText(absl::string_view s, bool* v) {
  if (s != "0" && s != "1") return false;
  *v = s == "1";
  return true;
}
bool FromAxisText(absl::string_view s, double* v) { return absl::SimpleAtod(s, v); }
template <typename T>
bool Parsed(absl::StatusOr<T> p, T* v) {
  if (!p.ok()) return false;
  *v = *p;
  return true;
}
bool FromAxisText(absl::string_view s, ModelKind* v) { return Parsed(ParseModel(s), v); }
bool FromAxisText(absl::string_view s, Precision* v) { return Parsed(ParsePrecision(s), v); }
bool FromAxisText(absl::string_view s, DeviceKind* v) { return Parsed(ParseDevice(s), v); }

std::string JoinName(absl::string_view family, const AxisValues& values) {
  std::string out(family);
  for (const auto& [axis, value] : values) absl::StrAppend(&out, "/", axis, ":", value);
  return out;
}

std::string BenchmarkName(const EpochConfig& c) { return JoinName(EpochConfig::kFamily, ValuesOf(c)); }

std::string DataParallelBenchmarkName(const EpochConfig& c, int ranks) {
  return absl::StrCat(BenchmarkName(c), "/ranks:", ranks);
}

std::string BenchmarkName(const StepConfig& c) { return JoinName(StepConfig::kFamily, ValuesOf(c)); }
std::string BenchmarkName(const LoaderConfig& c) { return JoinName(LoaderConfig::kFamily, ValuesOf(c)); }
std::string BenchmarkName(const TransferConfig& c) {
  return JoinName(c.to_device ? "BM_HostToDevice" : "BM_DeviceToHost", ValuesOf(c));
}

std::map<std::string, std::vector<std::string>> FamiliesByAxis() {
  std::map<std::string, std::vector<std::string>> out;
  auto add = [&out](const std::string& family, const auto& axes) {
    for (const auto& f : axes) out[f.axis].push_back(family);
  };
  add(EpochConfig::kFamily, EpochConfig::Axes());
  add(StepConfig::kFamily, StepConfig::Axes());
  add(LoaderConfig::kFamily, LoaderConfig::Axes());
  add("BM_HostToDevice", TransferConfig::Axes());
  add("BM_DeviceToHost", TransferConfig::Axes());
  // A data-parallel world's epochs and the all-reduce (bench/dist/world.h) carry ranks.
  out["ranks"] = {EpochConfig::kFamily, "BM_AllReduce"};
  out["bytes"].push_back("BM_AllReduce");
  return out;
}

}  // namespace trainbench
