// What to benchmark: the lab suite (each lab part declared once: its centre configuration and
// the axes it sweeps), the default sweeps derived from it, and the choice between the suite
// and the axis flags. Torch-free, so it is cheap to test. It registers and runs nothing; the
// axes are bench/suite/axis_table.h, each family's configuration and name bench/suite/configs.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bench/suite/axis_table.h"
#include "bench/suite/configs.h"
#include "common/axes.h"
#include "common/sample_stats.h"

namespace trainbench {

// ---- The lab suite: each lab part declared once (bench/suite/lab_suite.cc, LabSuite).
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
  std::string key;                    // "part2": what the report and plots key their sections and files on
  std::string title;                  // "Part 2: Batch size effects"
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
std::vector<AxisValues> PartPoints(const LabPart& part);

// The suite as one JSON document, the "lab_parts" context value:
// {"parts": [{"key": ..., "title": ..., "families": [...], "centre": {axis: value, ...},
//             "vary": ..., "sweeps": [{"axis": ..., "values": [...]}, ...]}, ...]}
std::string LabPartsJson(const std::vector<LabPart>& parts);

// The lab suite's stopping criterion (common/sample_stats.h), when no axis flag and no
// --max_noise is given: at least 4 samples a row (a spread to report, and a U-test between two
// runs that can reach p < 0.05: 4 against 4 can reach 0.029, 3 against 3 no lower than 0.1, so
// tools/compare.py gave no p-value at 3), up to 5% noise, and at most 10 s of timed work a row
// once it has those 4, so that a noisy row (a CPU step of a few ms varies by 10% and more on a
// shared machine) costs 10 s and says so rather than running on; a row whose epoch outlasts
// 10 s (Large on a CPU, 14 s) takes its 4. A plain run (any axis flag) keeps --epochs.
inline constexpr double kLabMaxNoisePct = 5;
inline constexpr int64_t kLabMinSamples = 4;
inline constexpr double kLabMaxSeconds = 10;
[[nodiscard]] inline StoppingCriterion LabSuiteCriterion() {
  return StoppingCriterion{kLabMaxNoisePct, kLabMinSamples, kLabMaxSeconds};
}

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

// With no axis flag: the default sweeps. With any: the cartesian product of the given values
// (bench/suite/axis_table.h, Points), the other axes at their unset values.
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
RegistrationOrder OrderForRegistration(const std::vector<EpochConfig>& epochs, const std::vector<StepConfig>& steps);

}  // namespace trainbench
