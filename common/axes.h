// The axis vocabulary every layer shares: the precisions, devices and Adam updates a
// benchmark can be configured with (the models are models/model_table.h), their names (an interface: benchmark names,
// results, tools and users' filters key on them), their parsers, and which precision runs on which device. Torch-free
// and free of any benchmark family, so models/, fixtures/ and bench/ can all include it; the lab's sweeps over these
// axes are in bench/suite/lab_suite.h.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbench {

enum class Precision { kFp32, kTf32, kFp16, kBf16 };
enum class DeviceKind { kCpu, kCuda };
// fused: one multi-tensor Adam update per step (at::_fused_adam_, what
// torch.optim.Adam(fused=True) runs); loop: torch::optim::Adam, several kernels per parameter.
enum class AdamKind { kFused, kLoop };

inline constexpr Precision kAllPrecisions[] = {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16};

[[nodiscard]] absl::string_view PrecisionName(Precision p);
[[nodiscard]] absl::string_view DeviceName(DeviceKind d);
[[nodiscard]] absl::string_view AdamName(AdamKind a);
// Case-insensitive. Errors name the flag and the value: "--precision=fp8: unknown precision
// (expected fp32, tf32, fp16 or bf16)".
absl::StatusOr<Precision> ParsePrecision(absl::string_view s);
absl::StatusOr<DeviceKind> ParseDevice(absl::string_view s);
absl::StatusOr<AdamKind> ParseAdam(absl::string_view s);

// "--flag=value: why", the one-line form of every bad-flag error.
[[nodiscard]] absl::Status FlagError(absl::string_view flag, absl::string_view value, absl::string_view why);

// Why a precision cannot run on a device, or nullopt when it can. (Whether a particular GPU
// runs bf16 natively is the device context's to say: DeviceContext::SupportsBf16.)
std::optional<std::string> UnsupportedPrecision(Precision p, DeviceKind d);

}  // namespace trainbench
