#include "common/axes.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace trainbench {

absl::Status FlagError(absl::string_view flag, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", value, ": ", why));
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

absl::StatusOr<Precision> ParsePrecision(absl::string_view s) {
  for (Precision p : kAllPrecisions) {
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

std::optional<std::string> UnsupportedPrecision(Precision p, DeviceKind d) {
  if (d != DeviceKind::kCpu) return std::nullopt;
  if (p == Precision::kTf32) return std::string("precision:tf32 exists only on CUDA (a tensor-core format)");
  if (p == Precision::kFp16) {
    return std::string("precision:fp16 is not run on cpu: CPU autocast is bf16 (use precision:bf16)");
  }
  return std::nullopt;
}

}  // namespace trainbench
