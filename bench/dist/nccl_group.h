// The CUDA process group, c10d's ProcessGroupNCCL, apart from bench/dist/rendezvous.cc: its header
// needs USE_C10D_NCCL and NCCL's nccl.h (the PyTorch wheel's NCCL package ships it), which
// CMake gives bench/dist/nccl_group.cc alone, and only in a CUDA build that found the header
// (TRAINBENCH_WITH_NCCL). Without it the world's CUDA rows are not registered.
#pragma once

#include <chrono>
#include <string>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace trainbench {

// ProcessGroupNCCL for rank of size over store, bound to GPU gpu and connected at once (as
// init_process_group(device_id=...) does), so that an NCCL that cannot start fails here, at
// the rendezvous, and not inside a benchmark. Collectives time out after timeout. Throws
// c10d's exceptions on failure, and std::runtime_error when the nccl.h this was built with is
// not the NCCL version LibTorch was built with.
c10::intrusive_ptr<c10d::Backend> MakeNcclBackend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                  std::chrono::milliseconds timeout, int gpu);

// The NCCL version LibTorch was built with (the wheel's NCCL package), "2.28.9".
std::string NcclVersion();

}  // namespace trainbench
