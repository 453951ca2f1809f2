#include "bench/distributed.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <c10/util/Logging.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/env.h"
#include "bench/interrupt.h"

#ifndef USE_C10D_GLOO
#error "bench/distributed.cc needs USE_C10D_GLOO (CMakeLists.txt sets it for this file)"
#endif

namespace trainbench {

struct ProcessGroups {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> cpu;  // ProcessGroupGloo
};

namespace {

// The first line of a c10d exception, without LibTorch's C++ backtrace.
std::string Reason(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return FirstLine(c10->what_without_backtrace());
  return FirstLine(e.what());
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

// The Gloo TCP device, chosen as Python's init_process_group does it
// (GLOO_SOCKET_IFNAME names an interface), except that a loopback MASTER_ADDR binds loopback:
// every rank is then on this host, and the host name's address (createDefaultDevice) may be
// one that a container or a firewall does not route.
std::shared_ptr<::gloo::transport::Device> GlooDevice(const World& w) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0') {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (IsLoopback(w.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname(w.master_addr);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

[[noreturn]] void FailCollective(const World& w, const std::string& name, const std::string& reason) {
  std::cout.flush();
  std::fflush(nullptr);
  std::fprintf(stderr, "trainbench: rank %d of %d: %s: collective failed: %s\n", w.rank, w.size,
               name.c_str(), reason.c_str());
  std::fflush(stderr);
  // _Exit, as main's FailWrite: no static destructors under a broken group (Gloo's threads).
  std::_Exit(1);
}

void AllReduceBenchmark(benchmark::State& state, const std::string& name, int64_t bytes,
                        const DistEnv& dist) {
  if (StopRequested()) {
    state.SkipWithError(NotRunMessage(StopSignal()).c_str());
    return;
  }
  c10d::Backend& group = *dist.groups->cpu;
  const int ranks = dist.world.size;
  double seconds = 0;  // manual time summed over the iterations
  int64_t all_reduces = 0;
  try {
    const int64_t elements = bytes / static_cast<int64_t>(sizeof(float));
    // Correctness first, untimed (it is also the warm-up: Gloo's first use of a size sets up
    // its buffers): rank r contributes r+1 everywhere, so every element must be R(R+1)/2,
    // exact in float32 for any world this runs on.
    std::vector<at::Tensor> tensors{at::full({elements}, static_cast<float>(dist.world.rank + 1))};
    group.allreduce(tensors)->wait();
    const float expected = static_cast<float>(ranks) * static_cast<float>(ranks + 1) / 2.0f;
    const float lo = tensors[0].min().item<float>();
    const float hi = tensors[0].max().item<float>();
    if (lo != expected || hi != expected) {
      const std::string why = absl::StrCat("all-reduce sum wrong at bytes:", bytes, ": elements from ",
                                           lo, " to ", hi, ", expected ", expected);
      if (dist.world.rank == 0) std::fprintf(stderr, "[trainbench] skipped %s: %s\n", name.c_str(), why.c_str());
      state.SkipWithError(why.c_str());
      return;
    }
    // Zeros sum to zeros: the timed all-reduces add finite numbers however many run.
    tensors[0].zero_();
    std::vector<at::Tensor> slowest{at::zeros({1}, at::kDouble)};
    c10d::AllreduceOptions max;
    max.reduceOp = c10d::ReduceOp::MAX;
    for (auto _ : state) {
      const auto start = std::chrono::steady_clock::now();
      group.allreduce(tensors)->wait();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      // Google Benchmark picks the next run's iteration count from the time measured: ranks
      // that measured differently would run different counts and pair their collectives up
      // wrongly. Each iteration reports the slowest rank's time (untimed, one more all-reduce
      // of a double), identical on every rank, so every rank decides alike.
      slowest[0].fill_(s);
      group.allreduce(slowest, max)->wait();
      const double iteration_s = slowest[0].item<double>();
      state.SetIterationTime(iteration_s);
      seconds += iteration_s;
      ++all_reduces;
    }
  } catch (const std::exception& e) {
    FailCollective(dist.world, name, Reason(e));
  }
  if (seconds <= 0) return;
  const double algbw_GB_per_s = static_cast<double>(bytes) * all_reduces / seconds / 1e9;
  state.counters["algbw_GB_per_s"] = algbw_GB_per_s;
  state.counters["busbw_GB_per_s"] = algbw_GB_per_s * AllReduceBusFactor(ranks);
  state.SetBytesProcessed(bytes * all_reduces);
}

// c10d logs each failed connection attempt with a C++ backtrace (ERROR and WARNING lines) while
// it retries; the rendezvous' outcome is one line of ours, so only FATAL is let through while it
// runs. c10's own log threshold (LibTorch built without glog): 0 INFO .. 3 FATAL.
class QuietC10Log {
 public:
  QuietC10Log() : saved_(FLAGS_caffe2_log_level) { FLAGS_caffe2_log_level = std::max(saved_, 3); }
  ~QuietC10Log() { FLAGS_caffe2_log_level = saved_; }
  QuietC10Log(const QuietC10Log&) = delete;
  QuietC10Log& operator=(const QuietC10Log&) = delete;

 private:
  int saved_;
};

}  // namespace

absl::Status Rendezvous(DistEnv& dist) {
  const QuietC10Log quiet;
  const World& w = dist.world;
  const std::string where = absl::StrCat(w.master_addr, ":", w.master_port);
  auto groups = std::make_shared<ProcessGroups>();
  try {
    c10d::TCPStoreOptions options;
    options.port = w.master_port;
    // Rank 0 serves the store and waits for the other ranks to connect, unless torchrun's
    // agent serves it already; multiTenant as Python's env:// rendezvous sets it.
    options.isServer = w.rank == 0 && !w.agent_store;
    options.numWorkers = static_cast<size_t>(w.size);
    options.waitWorkers = true;
    options.multiTenant = true;
    options.timeout = dist.timeout;
    groups->store = c10::make_intrusive<c10d::TCPStore>(w.master_addr, options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rendezvous at ", where, " (rank ", w.rank, " of ", w.size,
                                               ", --dist_timeout_s=", dist.timeout.count() / 1000,
                                               "): ", Reason(e)));
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(dist.timeout);
    options->devices.push_back(GlooDevice(w));
    // The constructor connects every pair of ranks through the store: it returns when the
    // whole world has, or throws at the timeout.
    groups->cpu = c10::make_intrusive<c10d::ProcessGroupGloo>(groups->store, w.rank, w.size, options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("Gloo process group over ", where, " (rank ", w.rank, " of ",
                                               w.size, "): ", Reason(e)));
  }
  dist.groups = std::move(groups);
  return absl::OkStatus();
}

const char* BackendName(const DistEnv&) { return "gloo"; }

void RegisterAllReduce(const std::vector<int64_t>& bytes, const DistEnv& dist) {
  for (const int64_t b : bytes) {
    const std::string name = AllReduceBenchmarkName(b, dist.world.size);
    benchmark::RegisterBenchmark(name.c_str(),
                                 [name, b, &dist](benchmark::State& st) {
                                   AllReduceBenchmark(st, name, b, dist);
                                 })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace trainbench
