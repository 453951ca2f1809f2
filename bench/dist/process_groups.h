// c10d's store and process groups of a world, as Rendezvous (bench/dist/rendezvous.cc) builds
// them. Gloo-free (the backends are held as c10d::Backend), so that tests can hold a world's
// groups without Debian's Gloo headers.
#pragma once

#include <cstdint>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace trainbench {

struct ProcessGroups {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> cpu;   // ProcessGroupGloo
  c10::intrusive_ptr<c10d::Backend> cuda;  // ProcessGroupNCCL, with WorldComm::cuda
  // Both behind one ProcessGroup, as c10d::Reducer and broadcast_coalesced take it: it picks
  // the backend by the tensors' device.
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  // Numbers the agreement steps (FirstRankThatCannot), which every rank takes in the same
  // order, so that each one's store keys are its own.
  int64_t agreements = 0;
};

}  // namespace trainbench
