// What every benchmark family shares: the data, the device contexts and the run options read
// from the flags once in main. Families register themselves against it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/config.h"
#include "fixtures/dataset.h"
#include "fixtures/device.h"

namespace trainbench {

struct RunOptions {
  int warmup_steps = 20;  // untimed optimizer steps before the first timed one
  int epochs = 2;         // timed epochs per BM_TrainEpoch benchmark
  uint64_t seed = 0;
  bool quiet = false;     // no per-epoch progress lines on stderr
};

struct BenchEnv {
  FashionMnist data;
  std::unique_ptr<DeviceContext> cpu;
  std::unique_ptr<DeviceContext> cuda;  // null without a GPU
  RunOptions run;

  [[nodiscard]] DeviceContext* context(DeviceKind d) const {
    return d == DeviceKind::kCuda ? cuda.get() : cpu.get();
  }
};

// REQUIRES: env outlives benchmark::RunSpecifiedBenchmarks.
void RegisterTrainEpoch(const std::vector<EpochConfig>& configs, const BenchEnv& env);
void RegisterTrainStep(const std::vector<StepConfig>& configs, const BenchEnv& env);
// BM_HostToDevice and BM_DeviceToHost, 64 KiB to 256 MiB, pinned and pageable; only when
// env.cuda is set.
void RegisterTransfers(const BenchEnv& env);
// BM_DataLoader for each configuration; pin:1 ones only when env.cuda is set.
void RegisterDataLoader(const std::vector<LoaderConfig>& configs, const BenchEnv& env);

// "batch:256 model:Large", for out-of-memory messages.
std::string BatchAndModel(int64_t batch, ModelKind model);

// The first line of an exception message (LibTorch's carry a C++ backtrace after it).
std::string FirstLine(const std::string& message);

// The context for device, or nullptr after skipping the benchmark with the reason (no GPU,
// or a precision the device does not run).
DeviceContext* ContextOrSkip(benchmark::State& state, const BenchEnv& env, DeviceKind device,
                             Precision precision);

// Runs body. An exception skips the benchmark with a one-line reason and returns false; on
// out-of-memory the reason names what_ran (e.g. "batch:256 model:Large"), and the device's
// cached memory is released (body's tensors are gone by then), so later benchmarks still run.
bool RunOrSkip(benchmark::State& state, const std::string& name, const std::string& what_ran,
               DeviceContext& ctx, const std::function<void()>& body);

}  // namespace trainbench
