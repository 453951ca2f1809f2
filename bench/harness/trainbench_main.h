// The whole trainbench program (flags, data, devices, registration, the run) as a function of
// where its CUDA devices come from: bench/main.cc passes CUDA's own, and the tests pass their
// test device (tests/test_device.h), so that a suite's CUDA control flow, with its faults,
// runs through the same main on a machine without a GPU.
#pragma once

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "fixtures/device.h"

namespace trainbench {

struct CudaDevices {
  std::function<bool()> available;  // a GPU is there (CudaAvailable)
  std::function<int()> count;       // GPUs this process sees
  // The context for GPU gpu (MakeCudaContext).
  std::function<absl::StatusOr<std::unique_ptr<DeviceContext>>(int gpu)> open;
  bool nccl = false;  // the CUDA process group is built in (NcclBuiltIn)
};

// CUDA's devices: what bench/main.cc runs with.
[[nodiscard]] CudaDevices SystemCudaDevices();

// The program: returns its exit status; bad input is one line on stderr and exit 2 (README,
// "Results that survive, interrupts and bad input").
int TrainbenchMain(int argc, char** argv, const CudaDevices& gpus);

}  // namespace trainbench
