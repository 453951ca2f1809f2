// One timed training epoch through the data pipeline, shared by BM_TrainEpoch and its
// data-parallel form (bench/families/data_parallel.cc).
#pragma once

#include <cstdint>
#include <optional>

#include "fixtures/device.h"
#include "fixtures/loader.h"
#include "models/trainer.h"

namespace trainbench {

// Stops NVML sampling however the timed epochs end, so that no sampler thread outlives a
// benchmark that threw (the last one's would still be calling NVML at process exit).
class UtilizationSampling {
 public:
  explicit UtilizationSampling(DeviceContext& ctx) : ctx_(ctx) { ctx_.StartUtilizationSampling(); }
  ~UtilizationSampling() { Stop(); }
  std::optional<double> Stop() { return ctx_.StopUtilizationSampling(); }

 private:
  DeviceContext& ctx_;
};

struct EpochResult {
  double timed_seconds = 0;
  double wall_seconds = 0;
  double wait_seconds = 0;
  std::optional<double> step_span_seconds;
  double mean_loss = 0;
  int64_t steps = 0;
};

// One epoch, timed. The copy of batch i+1 is started before step i runs, so with pinned
// memory it overlaps compute on the copy stream; each host batch goes back to the loader's
// pool as soon as it is staged. stop_between_steps: ThrowIfInterrupted between steps; a
// data-parallel epoch passes false, since one rank cannot stop alone (its ranks agree on a
// stop between epochs, bench/dist/distributed.h AgreedStopSignal).
EpochResult RunEpoch(Trainer& trainer, DeviceContext& ctx, const ImageSet& train, const LoaderOptions& lo,
                     int64_t epoch, bool stop_between_steps = true);

}  // namespace trainbench
