#include "bench/nccl_group.h"

#include <torch/csrc/cuda/nccl.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "absl/strings/str_cat.h"

#ifndef USE_C10D_NCCL
#error "bench/nccl_group.cc needs USE_C10D_NCCL (CMakeLists.txt sets it for this file)"
#endif

namespace trainbench {

c10::intrusive_ptr<c10d::Backend> MakeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                  int size, std::chrono::milliseconds timeout, int gpu) {
  c10::intrusive_ptr<c10d::ProcessGroupNCCL::Options> options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
  const at::Device device(at::kCUDA, static_cast<c10::DeviceIndex>(gpu));
  group->setBoundDeviceId(device);
  group->eagerConnectSingleDevice(device);
  return group;
}

std::string NcclVersion() {
  // NCCL_VERSION_CODE since 2.9: major x 10000 + minor x 100 + patch.
  const uint64_t v = torch::cuda::nccl::version();
  return absl::StrCat(v / 10000, ".", (v % 10000) / 100, ".", v % 100);
}

}  // namespace trainbench
