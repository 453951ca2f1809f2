#include "bench/dist/distributed.h"

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <thread>

#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <c10/util/Logging.h>
#include <gloo/common/error.h>
#include <gloo/config.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/harness/harness.h"
#include "bench/harness/interrupt.h"
#if TRAINBENCH_WITH_NCCL
#include "bench/dist/nccl_group.h"
#include "bench/dist/process_groups.h"
#endif

#ifndef USE_C10D_GLOO
#error "bench/dist/distributed.cc needs USE_C10D_GLOO (CMakeLists.txt sets it for this file)"
#endif

namespace trainbench {

namespace {

// Every key trainbench sets in the world's store starts with this (torchrun's agent keeps its
// own keys in the same store).
constexpr char kStorePrefix[] = "trainbench/";

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

// Whether e is a collective's failure (a peer gone, a timeout) rather than this rank's own.
bool IsCollectiveFailure(const std::exception& e) {
  if (dynamic_cast<const c10::DistError*>(&e) != nullptr) return true;
  if (dynamic_cast<const ::gloo::Exception*>(&e) != nullptr) return true;
  // Wrapped on the way (a future's error rethrown as c10::Error): Gloo's own messages.
  const std::string what = Reason(e);
  return absl::StrContains(what, "gloo/") || absl::StrContains(what, "Connection closed by peer") ||
         absl::StrContains(what, "Connection reset by peer");
}

void AllReduceBenchmark(benchmark::State& state, const std::string& name, int64_t bytes, WorldComm& dist,
                        DeviceContext* device_ctx) {
  const auto skip = [&](const std::string& why) { SkipOnRank0(state, name, dist, why); };
  const bool on_cuda = dist.cuda && device_ctx != nullptr;
  if (!StartOrSkip(state, name, dist, on_cuda ? device_ctx : nullptr)) return;
  c10d::Backend& group = on_cuda ? *dist.groups->cuda : *dist.groups->cpu;
  const at::TensorOptions where = at::TensorOptions().dtype(at::kFloat).device(on_cuda ? device_ctx->device() : at::kCPU);
  // wait() on a CUDA work only makes the current stream wait for NCCL's: the host clock
  // needs the device to be done.
  const auto done = [&] {
    if (on_cuda) device_ctx->Synchronize();
  };
  const int ranks = dist.world.size;
  double seconds = 0;  // manual time summed over the iterations
  int64_t all_reduces = 0;
  try {
    const int64_t elements = bytes / static_cast<int64_t>(sizeof(float));
    // Correctness first, untimed (it is also the warm-up: Gloo's first use of a size sets up
    // its buffers): rank r contributes r+1 everywhere, so every element must be R(R+1)/2,
    // exact in float32 for any world this runs on.
    std::vector<at::Tensor> tensors{at::full({elements}, static_cast<float>(dist.world.rank + 1), where)};
    group.allreduce(tensors)->wait();
    done();
    const float expected = static_cast<float>(ranks) * static_cast<float>(ranks + 1) / 2.0f;
    const float lo = tensors[0].min().item<float>();
    const float hi = tensors[0].max().item<float>();
    if (lo != expected || hi != expected) {
      skip(absl::StrCat("all-reduce sum wrong at bytes:", bytes, ": elements from ", lo, " to ", hi,
                        ", expected ", expected));
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
      done();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      // Google Benchmark picks the next run's iteration count from the time measured: ranks
      // that measured differently would run different counts and pair their collectives up
      // wrongly. Each iteration reports the slowest rank's time (untimed, one more all-reduce
      // of a double), identical on every rank, so every rank decides alike.
      slowest[0].fill_(s);
      dist.groups->cpu->allreduce(slowest, max)->wait();
      const double iteration_s = slowest[0].item<double>();
      state.SetIterationTime(iteration_s);
      seconds += iteration_s;
      ++all_reduces;
    }
  } catch (const std::exception& e) {
    // A world of one has nobody to wait for: the failure is this benchmark's alone.
    if (!dist.world.distributed()) {
      skip(Reason(e));
      return;
    }
    EndWorld(dist, name, e);
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

// Waits until the store holds every key, for timeout at most (c10d's Store::wait); false when
// they did not all come in time or the store failed. Quiet: a timeout here is expected when a
// rank is dead, and the caller says what it means.
bool AwaitKeys(c10d::Store& store, const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  const QuietC10Log quiet;
  try {
    store.wait(keys, timeout);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

absl::Status Rendezvous(WorldComm& dist) {
  const QuietC10Log quiet;
  const World& w = dist.world;
  const std::string where = w.distributed() ? absl::StrCat(w.master_addr, ":", w.master_port) : "this process";
  auto groups = std::make_shared<ProcessGroups>();
  if (!w.distributed()) {
    groups->store = c10::make_intrusive<c10d::HashStore>();
  } else {
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
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(dist.timeout);
    options->devices.push_back(w.distributed() ? GlooDevice(w) : c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    // The constructor connects every pair of ranks through the store: it returns when the
    // whole world has, or throws at the timeout. Each backend keys its own part of the store.
    groups->cpu = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo", groups->store), w.rank, w.size, options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("Gloo process group over ", where, " (rank ", w.rank, " of ",
                                               w.size, "): ", Reason(e)));
  }
  try {
    // Where every rank runs, for the context's nodes and ranks per node.
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    groups->store->set(absl::StrCat(kStorePrefix, "host/", w.rank), std::string(host));
    std::map<std::string, int> ranks_on;
    for (int r = 0; r < w.size; ++r) {
      const std::vector<uint8_t> h = groups->store->get(absl::StrCat(kStorePrefix, "host/", r));
      ++ranks_on[std::string(h.begin(), h.end())];
    }
    dist.nodes = static_cast<int>(ranks_on.size());
    for (const auto& [name, n] : ranks_on) dist.ranks_per_node = std::max(dist.ranks_per_node, n);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("store at ", where, " (rank ", w.rank, " of ", w.size,
                                               "): ", Reason(e)));
  }
  dist.groups = std::move(groups);
  return absl::OkStatus();
}

absl::Status CompleteGroups(WorldComm& dist) {
  const QuietC10Log quiet;
  const World& w = dist.world;
  ProcessGroups& groups = *dist.groups;
  const std::string where = w.distributed() ? absl::StrCat(w.master_addr, ":", w.master_port) : "this process";
  if (dist.cuda) {
#if TRAINBENCH_WITH_NCCL
    try {
      groups.cuda = MakeNcclBackend(c10::make_intrusive<c10d::PrefixStore>("nccl", groups.store), w.rank, w.size,
                                    dist.timeout, dist.gpu);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("NCCL process group over ", where, " (rank ", w.rank, " of ",
                                                 w.size, ", GPU ", dist.gpu, "): ", Reason(e)));
    }
#else
    return absl::UnimplementedError("the CUDA process group: this build has no NCCL (nccl.h not found at build time)");
#endif
  }
  groups.group = c10::make_intrusive<c10d::ProcessGroup>(groups.store, w.rank, w.size);
  // Bound to this rank's GPU before the backends join, as init_process_group(device_id=...)
  // does: setBackend gives each backend the group's bound device.
  if (groups.cuda) groups.group->setBoundDeviceId(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(dist.gpu)));
  groups.group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, groups.cpu);
  groups.group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
  if (groups.cuda) groups.group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, groups.cuda);
  return absl::OkStatus();
}

void SkipOnRank0(benchmark::State& state, const std::string& name, const WorldComm& dist, const std::string& why) {
  if (dist.world.rank == 0) std::fprintf(stderr, "[trainbench] skipped %s: %s\n", name.c_str(), why.c_str());
  state.SkipWithError(why.c_str());
}

bool StartOrSkip(benchmark::State& state, const std::string& name, WorldComm& dist, const DeviceContext* cuda_ctx) {
  // (A world of several ranks ends at the first failure on any rank: none gets here lost.)
  if (!dist.world.distributed() && cuda_ctx != nullptr && cuda_ctx->lost_reason()) {
    SkipOnRank0(state, name, dist, *cuda_ctx->lost_reason());
    return false;
  }
  if (absl::Status s = EnsureRendezvous(dist); !s.ok()) {
    SkipOnRank0(state, name, dist, std::string(s.message()));
    return false;
  }
  if (const int signal_number = AgreedStopSignal(dist)) {
    state.SkipWithError(NotRunMessage(signal_number).c_str());
    return false;
  }
  return true;
}

absl::Status EnsureRendezvous(WorldComm& dist) {
  if (dist.groups) return absl::OkStatus();
  if (dist.world.distributed()) return absl::FailedPreconditionError("no rendezvous yet");
  if (!dist.rendezvous) {
    dist.rendezvous = Rendezvous(dist);
    if (dist.rendezvous->ok()) dist.rendezvous = CompleteGroups(dist);
  }
  return *dist.rendezvous;
}

void ShutdownWorld(const WorldComm& dist) {
  if (!dist.groups) return;
  // The CUDA backend first: ProcessGroupNCCL's shutdown joins its watchdog thread, which
  // would otherwise still run at exit, and could crash the process after its results are
  // written. Gloo's is a no-op today.
  for (const c10::intrusive_ptr<c10d::Backend>& backend : {dist.groups->cuda, dist.groups->cpu}) {
    if (!backend) continue;
    try {
      backend->shutdown();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[trainbench] %s process group shutdown: %s\n", backend->getBackendName().c_str(),
                   Reason(e).c_str());
    }
  }
}

bool NcclBuiltIn() {
#if TRAINBENCH_WITH_NCCL
  return true;
#else
  return false;
#endif
}

const char* BackendName(const WorldComm& dist) { return dist.cuda ? "nccl" : "gloo"; }

std::string BackendVersion(const WorldComm& dist) {
#if TRAINBENCH_WITH_NCCL
  if (dist.cuda) return NcclVersion();
#endif
  (void)dist;
  return absl::StrCat(GLOO_VERSION_MAJOR, ".", GLOO_VERSION_MINOR, ".", GLOO_VERSION_PATCH);
}

void LeaveTogether(const WorldComm& dist, const std::string& step) {
  // Rank 0, which may serve the store, waits (5 s at most) until the others have read what
  // they compared, so that each prints its line and not a lost store.
  c10d::Store& store = *dist.groups->store;
  const auto done_key = [&step](int rank) { return absl::StrCat(kStorePrefix, step, "/", rank); };
  try {
    store.set(done_key(dist.world.rank), "");
    if (dist.world.rank != 0) return;
    std::vector<std::string> others;
    for (int o = 1; o < dist.world.size; ++o) others.push_back(done_key(o));
    (void)AwaitKeys(store, others, std::chrono::seconds(5));
  } catch (const std::exception&) {
    // Leaving anyway: the store's host has gone, and every rank is on its way out.
  }
}

absl::Status CheckSameRun(const WorldComm& dist, const std::vector<std::string>& lines) {
  c10d::Store& store = *dist.groups->store;
  const World& w = dist.world;
  try {
    store.set(absl::StrCat(kStorePrefix, "run/", w.rank), absl::StrJoin(lines, "\n"));
    const auto read = [&store](int r) {
      const std::vector<uint8_t> v = store.get(absl::StrCat(kStorePrefix, "run/", r));
      return std::vector<std::string>(absl::StrSplit(std::string(v.begin(), v.end()), '\n'));
    };
    const std::vector<std::string> first = read(0);
    for (int r = 1; r < w.size; ++r) {
      const std::optional<std::string> difference = RunDifference(first, read(r));
      if (!difference) continue;
      LeaveTogether(dist, "run_compared");  // every rank ends here
      return absl::FailedPreconditionError(absl::StrCat(
          "rank ", r, " of ", w.size, " would run something else than rank 0 (ranks need the same "
          "flags and benchmarks): ", *difference));
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("comparing the ranks' runs (rank ", w.rank, " of ", w.size,
                                               "): ", Reason(e)));
  }
  return absl::OkStatus();
}

namespace {

// A collective whose failure ends the process: the group is unusable after one.
double ReduceScalar(const WorldComm& dist, double value, c10d::ReduceOp op, const char* what) {
  std::vector<at::Tensor> t{at::full({1}, value, at::kDouble)};
  c10d::AllreduceOptions options;
  options.reduceOp = op;
  try {
    dist.groups->cpu->allreduce(t, options)->wait();
  } catch (const std::exception& e) {
    EndWorld(dist, what, e);
  }
  return t[0].item<double>();
}

}  // namespace

double MaxOverRanks(const WorldComm& dist, double value) {
  return ReduceScalar(dist, value, c10d::ReduceOp::MAX, "agreeing on the slowest rank");
}

double MinOverRanks(const WorldComm& dist, double value) {
  return ReduceScalar(dist, value, c10d::ReduceOp::MIN, "agreeing on the fastest rank");
}

double SumOverRanks(const WorldComm& dist, double value) {
  return ReduceScalar(dist, value, c10d::ReduceOp::SUM, "adding up over the ranks");
}

int AgreedStopSignal(const WorldComm& dist) {
  const int signal_number = static_cast<int>(
      ReduceScalar(dist, static_cast<double>(StopSignal()), c10d::ReduceOp::MAX, "agreeing on a stop"));
  if (signal_number != 0) RequestStop(signal_number);
  return signal_number;
}

std::optional<std::string> FirstRankThatCannot(const WorldComm& dist, const std::string& what,
                                               const std::optional<std::string>& mine) {
  const World& w = dist.world;
  const int64_t step = dist.groups->agreements++;
  const auto key = [step](int r) { return absl::StrCat(kStorePrefix, "cannot/", step, "/", r); };
  std::vector<at::Tensor> cannot{at::zeros({w.size}, at::kFloat)};
  try {
    // The reason first, so that it is in the store before any rank learns there is one.
    if (mine) {
      dist.groups->store->set(key(w.rank), *mine);
      cannot[0][w.rank] = 1.0f;
    }
    dist.groups->cpu->allreduce(cannot)->wait();
    for (int r = 0; r < w.size; ++r) {
      if (cannot[0][r].item<float>() == 0.0f) continue;
      const std::vector<uint8_t> why = dist.groups->store->get(key(r));
      return absl::StrCat("rank ", r, ": ", std::string(why.begin(), why.end()));
    }
  } catch (const std::exception& e) {
    EndWorld(dist, what, e);
  }
  return std::nullopt;
}

void RegisterAllReduce(const std::vector<int64_t>& bytes, WorldComm& dist, DeviceContext* device_ctx) {
  for (const int64_t b : bytes) {
    const std::string name = AllReduceBenchmarkName(b, dist.world.size);
    RegisterNamed(name, [name, b, &dist, device_ctx](benchmark::State& st) {
                                   AllReduceBenchmark(st, name, b, dist, device_ctx);
                                 })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

void EndWorld(const WorldComm& dist, const std::string& benchmark, const std::exception& e) {
  const World& w = dist.world;
  const bool collective = IsCollectiveFailure(e);
  const std::string reason = Reason(e);
  c10d::Store* store = dist.groups ? dist.groups->store.get() : nullptr;
  const auto key = [](int r) { return absl::StrCat(kStorePrefix, "failed/", r); };
  constexpr char kOwn[] = "own|";
  bool store_answers = store != nullptr;
  if (store_answers) {
    try {
      store->set(key(w.rank), absl::StrCat(collective ? "collective|" : kOwn, benchmark, ": ", reason));
    } catch (const std::exception&) {
      store_answers = false;
    }
  }
  // Rank 0 may serve the store (not under torchrun, whose agent does): it waits longer than
  // the others, so that the store outlives their reading of it.
  const bool serves_store = w.rank == 0 && !w.agent_store;
  const auto wait_limit = std::min<std::chrono::milliseconds>(std::chrono::seconds(5), dist.timeout);
  std::string line;
  if (!collective) {
    line = absl::StrCat(benchmark, ": ", reason, " (the other ranks stop at their next collective)");
    if (serves_store && store_answers) {
      // Until every other rank has said it saw the failure (or the wait is over).
      std::vector<std::string> others;
      for (int r = 1; r < w.size; ++r) others.push_back(key(r));
      (void)AwaitKeys(*store, others, wait_limit);
    }
  } else {
    // Who caused it: a rank that failed on its own says so in the store (above); the ranks it
    // left waiting see their collectives fail and say that; a rank killed says nothing.
    std::map<int, std::string> words;
    const auto deadline = std::chrono::steady_clock::now() + wait_limit +
                          (serves_store ? std::chrono::seconds(2) : std::chrono::seconds(0));
    const auto has_own = [&] {
      return std::any_of(words.begin(), words.end(), [&](const auto& kv) { return absl::StartsWith(kv.second, kOwn); });
    };
    while (store_answers) {
      for (int r = 0; r < w.size && store_answers; ++r) {
        if (r == w.rank || words.count(r) > 0) continue;
        try {
          if (store->check({key(r)})) {
            const std::vector<uint8_t> v = store->get(key(r));
            words[r] = std::string(v.begin(), v.end());
          }
        } catch (const std::exception&) {
          store_answers = false;
        }
      }
      // Rank 0 serving the store stays to the end of its wait: the others are still reading.
      if ((!serves_store && has_own()) || static_cast<int>(words.size()) == w.size - 1 ||
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::string cause;
    for (const auto& [r, word] : words) {
      if (absl::StartsWith(word, kOwn)) {
        cause = absl::StrCat("rank ", r, " failed first: ", word.substr(sizeof(kOwn) - 1));
        break;
      }
    }
    // The store gone before rank 0 said anything: rank 0, which served it, died.
    if (cause.empty() && !store_answers && words.count(0) == 0 && w.rank != 0) {
      cause = w.agent_store ? "torchrun's store stopped answering too"
                            : "rank 0 stopped answering (it serves the store: killed, crashed or hung)";
    }
    if (cause.empty()) {
      std::vector<int> silent;
      for (int r = 0; r < w.size; ++r) {
        if (r != w.rank && words.count(r) == 0) silent.push_back(r);
      }
      cause = silent.empty() ? "every other rank saw a collective fail too"
                             : absl::StrCat(silent.size() == 1 ? "rank " : "ranks ", absl::StrJoin(silent, ", "),
                                            " stopped answering (killed, crashed or hung)");
    }
    line = absl::StrCat(benchmark, ": ", cause, "; here: ", reason);
  }
  std::cout.flush();
  std::fflush(nullptr);
  std::fprintf(stderr, "trainbench: rank %d of %d: %s\n", w.rank, w.size, line.c_str());
  std::fflush(stderr);
  // _Exit, as main's FailWrite: no static destructors under a broken group (Gloo's threads).
  std::_Exit(1);
}

// ---- GradientSync

// DDP's broadcast_bucket_size for the initial module-state sync: 250 MiB per coalesced broadcast.
constexpr size_t kBroadcastBucketBytes = 250u * 1024 * 1024;

struct GradientSync::Impl {
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::vector<at::Tensor> buffers;
  std::unique_ptr<c10d::Reducer> reducer;
};

GradientSync::GradientSync(const WorldComm& dist, torch::nn::Module& model, int64_t bucket_bytes)
    : impl_(std::make_unique<Impl>()) {
  impl_->group = dist.groups->group;
  std::vector<at::Tensor> params;
  for (const at::Tensor& p : model.parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  impl_->buffers = model.buffers();
  // As DistributedDataParallel's constructor: the same shapes everywhere, then rank 0's values.
  c10d::verify_params_across_processes(impl_->group, params, std::nullopt);
  std::vector<at::Tensor> state = params;
  state.insert(state.end(), impl_->buffers.begin(), impl_->buffers.end());
  {
    torch::NoGradGuard no_grad;  // in-place writes into leaf parameters
    c10d::broadcast_coalesced(impl_->group, state, kBroadcastBucketBytes, /*rank=*/0);
  }
  // Buckets in DDP's way (find_unused_parameters=false): one bucket for the first step, after
  // which rebuild_buckets (BeforeForward) cuts them in the order the gradients became ready,
  // the first 1 MiB and then bucket_bytes each, so that the first bucket to fill in backward
  // is all-reduced while backward goes on.
  // The last argument, the caps for the rebuild, is empty as DDP passes it without
  // bucket_cap_mb_list: the rebuild then cuts by first_bucket_bytes and bucket_bytes. (A list
  // holding the first step's one limit, sys.maxsize, kept the model one bucket for good, all-
  // reduced after backward ended.)
  const std::vector<bool> sparse(params.size(), false);
  auto [indices, limits] = c10d::compute_bucket_assignment_by_size(
      params, {static_cast<size_t>(std::numeric_limits<int64_t>::max())}, sparse);  // Python's sys.maxsize
  std::reverse(indices.begin(), indices.end());
  impl_->reducer = std::make_unique<c10d::Reducer>(
      params, std::move(indices), impl_->group, sparse, bucket_bytes, /*find_unused_parameters=*/false,
      /*gradient_as_bucket_view=*/false, std::unordered_map<size_t, std::string>{},
      c10d::kDefaultFirstBucketBytes, /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
      /*bucket_bytes_cap_list=*/std::vector<int64_t>{});
}

GradientSync::~GradientSync() = default;

void GradientSync::BeforeForward() {
  // As DDP's forward: after the first synced step the buckets are rebuilt once, in the order
  // the gradients came (every rank at the same step; it broadcasts rank 0's order). Without
  // it the reducer would also keep recording that order on every step.
  if (enabled_) (void)impl_->reducer->rebuild_buckets();
  // Buffers follow rank 0 while gradients are synced; under no_sync DDP stops that too.
  if (enabled_) SyncBuffers();
  impl_->reducer->prepare_for_forward();
}

int64_t GradientSync::buckets() const { return static_cast<int64_t>(impl_->reducer->get_grad_buckets(/*return_zero_tensors=*/false).size()); }

void GradientSync::SyncBuffers() {
  if (impl_->buffers.empty()) return;
  torch::NoGradGuard no_grad;
  c10d::broadcast_coalesced(impl_->group, impl_->buffers, kBroadcastBucketBytes, /*rank=*/0);
}

void GradientSync::BeforeBackward(const at::Tensor&) {
  // With find_unused_parameters=false the reducer needs no outputs: every parameter's
  // gradient is expected. Not armed (no_sync), its autograd hooks do nothing.
  if (enabled_) impl_->reducer->prepare_for_backward({});
}

}  // namespace trainbench
