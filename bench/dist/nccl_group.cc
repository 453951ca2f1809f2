#include "bench/dist/nccl_group.h"

#include <nccl.h>
#include <torch/csrc/cuda/nccl.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <stdexcept>

#include "absl/strings/str_cat.h"

#ifndef USE_C10D_NCCL
#error "bench/dist/nccl_group.cc needs USE_C10D_NCCL (CMakeLists.txt sets it for this file)"
#endif

namespace trainbench {

namespace {

// torch::cuda::nccl::version(): the NCCL LibTorch was built against, as
// (major << 32) | (minor << 16) | patch.
struct Version {
  uint64_t major, minor, patch;
};
Version TorchNcclVersion() {
  const uint64_t v = torch::cuda::nccl::version();
  return {v >> 32, (v >> 16) & 0xffff, v & 0xffff};
}

}  // namespace

c10::intrusive_ptr<c10d::Backend> MakeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                  std::chrono::milliseconds timeout, int gpu) {
  // ProcessGroupNCCL::Options holds an ncclConfig_t, whose size is nccl.h's: this file's
  // header must be the one LibTorch was built with, or the two would disagree on its layout.
  const Version built = TorchNcclVersion();
  if (built.major != NCCL_MAJOR || built.minor != NCCL_MINOR) {
    throw std::runtime_error(absl::StrCat("trainbench was built against nccl.h ", NCCL_MAJOR, ".", NCCL_MINOR,
                                          " but LibTorch against NCCL ", built.major, ".", built.minor,
                                          ": rebuild with the wheel's nvidia/nccl/include"));
  }
  c10::intrusive_ptr<c10d::ProcessGroupNCCL::Options> options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
  const at::Device device(at::kCUDA, static_cast<c10::DeviceIndex>(gpu));
  group->setBoundDeviceId(device);
  group->eagerConnectSingleDevice(device);
  return group;
}

std::string NcclVersion() {
  const Version v = TorchNcclVersion();
  return absl::StrCat(v.major, ".", v.minor, ".", v.patch);
}

}  // namespace trainbench
