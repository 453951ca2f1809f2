// What to benchmark: the lab suite (each lab part declared once: its centre configuration and
// the axes it sweeps), each family's configuration and benchmark name (an interface: results,
// tools and users' filters key on them), the default sweeps derived from the suite, and
// parsing of the axis flags. Torch-free, so it is cheap to test. It registers and runs
// nothing; the axis vocabulary (models, precisions, devices) is common/axes.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/axes.h"

namespace trainbench {

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

// One BM_HostToDevice (to_device) or BM_DeviceToHost copy of `bytes`, from or to pinned or
// pageable host memory.
struct TransferConfig {
  bool to_device = true;
  int64_t bytes = 0;
  bool pinned = false;

  bool operator==(const TransferConfig& o) const {
    return to_device == o.to_device && bytes == o.bytes && pinned == o.pinned;
  }
};

// "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda/graph:0"
std::string BenchmarkName(const EpochConfig& c);
// "BM_TrainEpoch/batch:256/model:Large/workers:4/precision:fp32/pin:1/device:cuda/graph:0/ranks:8":
// the data-parallel epoch of a world of ranks > 1 (batch is per rank). A world of one keeps
// BenchmarkName(c).
std::string DataParallelBenchmarkName(const EpochConfig& c, int ranks);
// "BM_TrainStep/batch:256/model:Large/precision:fp32/device:cuda/graph:0"
std::string BenchmarkName(const StepConfig& c);
// "BM_DataLoader/batch:256/workers:4/pin:1"
std::string BenchmarkName(const LoaderConfig& c);
// "BM_HostToDevice/bytes:65536/pinned:1"
std::string BenchmarkName(const TransferConfig& c);

// The axis flags as given (empty = not given). Each entry is one value, e.g. {"16", "64"}.
struct AxisFlags {
  std::vector<std::string> batch, model, workers, precision, pin, device, graph;

  [[nodiscard]] bool any() const {
    return !batch.empty() || !model.empty() || !workers.empty() || !precision.empty() ||
           !pin.empty() || !device.empty() || !graph.empty();
  }
};

// ---- The lab suite: each lab part declared once (bench/lab_suite.cc, LabSuite).
//
// A part is the question it asks, the benchmark families that answer it, the centre
// configuration (every axis with its value, spelt as in the benchmark name) and the axes it
// sweeps around the centre with their values. The default sweeps (DefaultEpochSweep,
// DefaultStepSweep, the transfer sizes) are the parts' points, and the same table goes into
// the results' JSON context as "lab_parts" (LabPartsJson), where tools/labparts.py, report.py
// and plot.py read it: a sweep value changed here changes the run, the report and the plots.

// One swept axis: its name in benchmark names and its values, in sweep order.
struct AxisSweep {
  std::string axis;                 // "batch"
  std::vector<std::string> values;  // {"16", "64", "256", "1024"}
};

struct LabPart {
  std::string key;    // "part2": what the report and plots key their sections and files on
  std::string title;  // "Part 2: Batch size effects"
  std::vector<std::string> families;  // {"BM_TrainEpoch"}: registered in this order
  // Every axis of the families' names, in name order: "batch:256/model:Medium/...".
  std::string centre;
  std::string vary;  // the axis the question is about: the x axis of its table and plot
  // Crossed with each other, outer to inner (a point per combination), each replacing the
  // centre's value of its axis. One of them is `vary`.
  std::vector<AxisSweep> sweeps;
};

// The lab's parts for the devices present: with a GPU, Parts 1-4, precision, small models,
// transfers and the loader on it; on a CPU-only machine a CPU-sized version of the same
// questions (no transfers: there is no device to copy to).
std::vector<LabPart> LabSuite(bool cuda_available);

// A part's points, in sweep order: each the centre with one value of every sweep substituted,
// as (axis, value) pairs in the centre's order.
using AxisValues = std::vector<std::pair<std::string, std::string>>;
std::vector<AxisValues> PartPoints(const LabPart& part);

// The suite as one JSON document, the "lab_parts" context value:
// {"parts": [{"key": ..., "title": ..., "families": [...], "centre": {axis: value, ...},
//             "vary": ..., "sweeps": [{"axis": ..., "values": [...]}, ...]}, ...]}
std::string LabPartsJson(const std::vector<LabPart>& parts);

// The suite's BM_TrainEpoch points, deduplicated, in declaration order (the parts share
// their centres, so e.g. Part 2's batch 256 is Part 3's Medium).
std::vector<EpochConfig> DefaultEpochSweep(bool cuda_available);
// The suite's BM_TrainStep points (small models: every model at batch 16 and 256, fp32, on
// every device present).
std::vector<StepConfig> DefaultStepSweep(bool cuda_available);
// The suite's host<->device copies (64 KiB to 256 MiB in steps of 4x, pageable and pinned,
// both directions); none without a GPU.
std::vector<TransferConfig> DefaultTransfers(bool cuda_available);

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
