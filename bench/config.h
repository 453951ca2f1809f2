// What to benchmark: the axes of each family, their names (an interface: results, tools and
// users' filters key on them), the lab's default sweeps, and parsing of the axis flags.
// Torch-free, so it is cheap to test. It does not register or run anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbench {

enum class ModelKind { kSmall, kMedium, kLarge };
enum class Precision { kFp32, kTf32, kFp16, kBf16 };
enum class DeviceKind { kCpu, kCuda };
// fused: one multi-tensor Adam update per step (at::_fused_adam_, what
// torch.optim.Adam(fused=True) runs); loop: torch::optim::Adam, several kernels per parameter.
enum class AdamKind { kFused, kLoop };

[[nodiscard]] absl::string_view ModelName(ModelKind m);
[[nodiscard]] absl::string_view PrecisionName(Precision p);
[[nodiscard]] absl::string_view DeviceName(DeviceKind d);
absl::StatusOr<ModelKind> ParseModel(absl::string_view s);
absl::StatusOr<Precision> ParsePrecision(absl::string_view s);
absl::StatusOr<DeviceKind> ParseDevice(absl::string_view s);
[[nodiscard]] absl::string_view AdamName(AdamKind a);
absl::StatusOr<AdamKind> ParseAdam(absl::string_view s);

// One BM_TrainEpoch configuration. pin = batches in pinned host memory, copied non_blocking.
// graph = each full-size step replayed from one CUDA graph capture (CUDA only).
struct EpochConfig {
  int64_t batch = 256;
  ModelKind model = ModelKind::kMedium;
  int workers = 0;
  Precision precision = Precision::kFp32;
  bool pin = false;
  DeviceKind device = DeviceKind::kCpu;
  bool graph = false;

  bool operator==(const EpochConfig& o) const {
    return batch == o.batch && model == o.model && workers == o.workers &&
           precision == o.precision && pin == o.pin && device == o.device && graph == o.graph;
  }
};

// One BM_TrainStep configuration: optimizer steps on a batch already on the device.
struct StepConfig {
  int64_t batch = 256;
  ModelKind model = ModelKind::kMedium;
  Precision precision = Precision::kFp32;
  DeviceKind device = DeviceKind::kCpu;
  bool graph = false;  // the step replayed from one CUDA graph capture (CUDA only)

  bool operator==(const StepConfig& o) const {
    return batch == o.batch && model == o.model && precision == o.precision &&
           device == o.device && graph == o.graph;
  }
};

// One BM_DataLoader configuration: the loader alone (no model, no copy), building batches in
// pinned (pin) or pageable host memory.
struct LoaderConfig {
  int64_t batch = 256;
  int workers = 0;
  bool pin = false;

  bool operator==(const LoaderConfig& o) const {
    return batch == o.batch && workers == o.workers && pin == o.pin;
  }
};

// "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda/graph:0"
std::string BenchmarkName(const EpochConfig& c);
// "BM_TrainStep/batch:256/model:Large/precision:fp32/device:cuda/graph:0"
std::string BenchmarkName(const StepConfig& c);
// "BM_DataLoader/batch:256/workers:4/pin:1"
std::string BenchmarkName(const LoaderConfig& c);

// The axis flags as given (empty = not given). Each entry is one value, e.g. {"16", "64"}.
struct AxisFlags {
  std::vector<std::string> batch, model, workers, precision, pin, device, graph;

  [[nodiscard]] bool any() const {
    return !batch.empty() || !model.empty() || !workers.empty() || !precision.empty() ||
           !pin.empty() || !device.empty() || !graph.empty();
  }
};

// The lab's Parts 1-4 (plus the precision sweep) for the devices present; on a CPU-only
// machine a CPU-sized version of the same questions. Deduplicated, in registration order.
std::vector<EpochConfig> DefaultEpochSweep(bool cuda_available);
// Small/Medium/Large at batch 16 and 256, fp32, on every device present.
std::vector<StepConfig> DefaultStepSweep(bool cuda_available);

// The loader settings the epoch configurations use, deduplicated, in order: BM_DataLoader
// measures, for each, how fast the loader alone produces batches (the ceiling it sets on
// BM_TrainEpoch), so it follows the default sweeps and the axis flags alike.
std::vector<LoaderConfig> LoaderConfigs(const std::vector<EpochConfig>& epoch_configs);

// With no axis flag: the default sweeps. With any: the cartesian product of the given values,
// the other axes at their lab defaults; pin:1 combinations on cpu are dropped (only pin:0
// exists there). Errors name the flag and the bad value, e.g. "--batch=abc: not a positive
// integer", and "--device=cuda: no CUDA GPU is available".
// graph:1 exists only on cuda: its combinations on cpu are dropped, and --graph=1 with no
// cuda device among the values is an error.
absl::StatusOr<std::vector<EpochConfig>> EpochConfigs(const AxisFlags& flags, bool cuda_available);
absl::StatusOr<std::vector<StepConfig>> StepConfigs(const AxisFlags& flags, bool cuda_available);

// The order families register in. A failed CUDA graph capture can leave the CUDA context
// unusable, so every graph:1 row runs after every eager one (and after the loader and
// transfer families, which main registers in between).
struct RegistrationOrder {
  std::vector<EpochConfig> epochs;        // graph:0, in the given order
  std::vector<StepConfig> steps;          // graph:0
  std::vector<StepConfig> graph_steps;    // graph:1, registered last but one
  std::vector<EpochConfig> graph_epochs;  // graph:1, registered last
};
RegistrationOrder OrderForRegistration(const std::vector<EpochConfig>& epochs,
                                       const std::vector<StepConfig>& steps);

// Splits "a,b" (or several occurrences already split by the flag library) into values,
// trimming spaces and dropping empty pieces.
std::vector<std::string> SplitAxisValues(const std::vector<std::string>& raw);

// Checks one axis flag's value as given on the command line (before the flag library splits
// it): an empty value ("--batch=") or an empty piece ("--batch=16,,64", "--batch=16,") is an
// error naming the flag, not "not given": leaving the flag out is how the lab sweep is asked for.
absl::Status CheckAxisValue(absl::string_view flag, absl::string_view value);

// --cpu_threads: 0 (all cores) up to 4x the cores, like --workers' bound: more threads than
// that only measure oversubscription. "--cpu_threads=9999: out of range 0..8 (4x the 2 cores)".
absl::Status CheckCpuThreads(int64_t value, int cores);

}  // namespace trainbench
