// The ranks' agreements: the same run on every rank, a stop signal, scalars over ranks, who
// cannot go on, and how a world ends when one rank fails.
#include "bench/dist/distributed.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <ATen/ops/full.h>
#include <c10/util/Exception.h>
#include <gloo/common/error.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/dist/process_groups.h"
#include "bench/dist/store_keys.h"
#include "bench/harness/harness.h"
#include "bench/harness/interrupt.h"

namespace trainbench {

// The first line of a c10d exception, without LibTorch's C++ backtrace.
std::string Reason(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return FirstLine(c10->what_without_backtrace());
  return FirstLine(e.what());
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

bool AwaitKeys(c10d::Store& store, const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  const QuietC10Log quiet;
  try {
    store.wait(keys, timeout);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void SkipOnRank0(benchmark::State& state, const std::string& name, const WorldComm& dist, const std::string& why) {
  if (dist.world.rank == 0) std::fprintf(stderr, "[trainbench] skipped %s: %s\n", name.c_str(), why.c_str());
  state.SkipWithError(why.c_str());
}

bool StartOrSkip(benchmark::State& state, const std::string& name, WorldComm& dist, const DeviceContext* cuda_ctx) {
  NoteBenchmark(name);
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

void LeaveTogether(const WorldComm& dist, const std::string& step) {
  // Rank 0, which may serve the store, waits (5 s at most) until the others have read what
  // they compared, so that each prints its line and not a lost store.
  const QuietC10Log quiet;  // a store gone is expected here: everyone is leaving
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
  const QuietC10Log quiet;  // a store gone is the one line returned, not c10d's backtrace too
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
      return absl::FailedPreconditionError(absl::StrCat("rank ", r, " of ", w.size,
                                                        " would run something else than rank 0 (ranks need the same "
                                                        "flags and benchmarks): ",
                                                        *difference));
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("comparing the ranks' runs (rank ", w.rank, " of ", w.size, "): ", Reason(e)));
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
  const QuietC10Log quiet;  // a failure ends in EndWorld's one line
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

}  // namespace trainbench
