// The rendezvous: c10d's store, the Gloo group, then NCCL once the ranks agreed; and the
// shutdown that leaves no backend thread at exit.
#include "bench/dist/distributed.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <c10/util/Exception.h>
#include <gloo/config.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/dist/process_groups.h"
#include "bench/dist/store_keys.h"
#if TRAINBENCH_WITH_NCCL
#include "bench/dist/nccl_group.h"
#endif

#ifndef USE_C10D_GLOO
#error "bench/dist/rendezvous.cc needs USE_C10D_GLOO (CMakeLists.txt sets it for TRAINBENCH_GLOO_SOURCES)"
#endif

namespace trainbench {
namespace {

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
                                                 ", --dist_timeout_s=", dist.timeout.count() / 1000, "): ", Reason(e)));
    }
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(dist.timeout);
    options->devices.push_back(w.distributed() ? GlooDevice(w)
                                               : c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    // The constructor connects every pair of ranks through the store: it returns when the
    // whole world has, or throws at the timeout. Each backend keys its own part of the store.
    groups->cpu = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo", groups->store), w.rank, w.size, options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("Gloo process group over ", where, " (rank ", w.rank, " of ", w.size, "): ", Reason(e)));
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
    return absl::UnavailableError(
        absl::StrCat("store at ", where, " (rank ", w.rank, " of ", w.size, "): ", Reason(e)));
  }
  dist.groups = std::move(groups);
  StartFailureWatch(dist);
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
      return absl::UnavailableError(absl::StrCat("NCCL process group over ", where, " (rank ", w.rank, " of ", w.size,
                                                 ", GPU ", dist.gpu, "): ", Reason(e)));
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

}  // namespace trainbench
