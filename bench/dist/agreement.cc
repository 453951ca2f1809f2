// The ranks' agreements: the same run on every rank, a stop signal, scalars over ranks, who
// cannot go on, and how a world ends when one rank fails.
#include "bench/dist/distributed.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

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

namespace {

// EndWorld's last words, said once: by EndWorld, or by its guard when the store hangs.
[[noreturn]] void SayAndExit(const World& w, const std::string& line) {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) {
    // The other thread is saying it and exiting the process.
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::cout.flush();
  std::fflush(nullptr);
  std::fprintf(stderr, "trainbench: rank %d of %d: %s\n", w.rank, w.size, line.c_str());
  std::fflush(stderr);
  // _Exit, as main's FailWrite: no static destructors under a broken group (Gloo's threads).
  std::_Exit(1);
}

}  // namespace

namespace {

// The failure watch's state, one world a process: the benchmark running (for its line) and
// whether this rank has begun to end (the watch then has nothing to do).
struct WatchState {
  std::mutex mutex;
  std::string benchmark = "between benchmarks";
  std::atomic<bool> ending{false};
};
WatchState& Watch() {
  static WatchState* s = new WatchState;  // never destroyed: the watch thread outlives main
  return *s;
}
// Every rank that ends adds 1 here, so that a watch learns of it in one store call.
std::string EndedCountKey() { return absl::StrCat(kStorePrefix, "ended_count"); }

[[noreturn]] void EndWith(const World& w, c10d::Store* store, std::chrono::milliseconds timeout, bool collective,
                          const std::string& benchmark, const std::string& reason);

}  // namespace

void NoteBenchmark(const std::string& name) {
  const std::lock_guard<std::mutex> lock(Watch().mutex);
  Watch().benchmark = name;
}

void StartFailureWatch(const WorldComm& dist) {
  if (!dist.world.distributed() || !dist.groups) return;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = dist.groups->store->clone();  // a connection of its own, beside the main thread's
  } catch (const std::exception&) {
    return;  // no watch: a rank blocked on a failed one then ends when that one exits
  }
  std::thread([w = dist.world, timeout = dist.timeout, store] {
    for (;;) {
      std::this_thread::sleep_for(kFailureWatchPeriod);
      if (Watch().ending) return;
      int64_t ended = 0;
      try {
        const QuietC10Log quiet;
        ended = store->add(EndedCountKey(), 0);
      } catch (const std::exception&) {
        return;  // the store has gone: the run is ending, and the main thread says how
      }
      if (ended == 0) continue;
      // Its own collective may be failing too: leave it the moment to say so itself.
      std::this_thread::sleep_for(kFailureWatchPeriod);
      if (Watch().ending.exchange(true)) return;
      std::string benchmark;
      {
        const std::lock_guard<std::mutex> lock(Watch().mutex);
        benchmark = Watch().benchmark;
      }
      EndWith(w, store.get(), timeout, /*collective=*/true, benchmark,
              "waiting in a collective that a rank which ended will never join");
    }
  }).detach();
}

void EndWorld(const WorldComm& dist, const std::string& benchmark, const std::exception& e) {
  Watch().ending = true;
  EndWith(dist.world, dist.groups ? dist.groups->store.get() : nullptr, dist.timeout, IsCollectiveFailure(e), benchmark,
          Reason(e));
}

namespace {

void EndWith(const World& w, c10d::Store* store, std::chrono::milliseconds timeout, bool collective,
             const std::string& benchmark, const std::string& reason) {
  // A store whose host has gone (rank 0 killed) fails each call with a c10d WARNING and a
  // 16-line C++ backtrace before the exception this reads; the one line below says it all.
  const QuietC10Log quiet;
  const auto key = [](int r) { return absl::StrCat(kStorePrefix, "failed/", r); };
  constexpr char kOwn[] = "own|";
  // Rank 0 may serve the store (not under torchrun, whose agent does): it waits longer than
  // the others, so that the store outlives their reading of it.
  const bool serves_store = w.rank == 0 && !w.agent_store;
  const auto wait_limit = std::min<std::chrono::milliseconds>(std::chrono::seconds(5), timeout);
  const std::chrono::milliseconds extra_wait = serves_store ? std::chrono::seconds(2) : std::chrono::seconds(0);
  // The guard and the waits below count from one start, so the guard stays 1 s behind them
  // however long the store takes to answer.
  const auto start = std::chrono::steady_clock::now();
  // c10d's TCPStore client reads the answer to check() and get() with no timeout: a store host
  // that hangs without closing its sockets (SIGSTOP, a frozen node) held this rank in check()
  // for ever, and add() below waits for its answer the same way. This guard ends the rank with
  // the line it would say without the store's answers, 1 s after the wait below would have
  // ended; it starts before the first store call here.
  {
    const std::string store_gone = !serves_store && w.rank != 0 && !w.agent_store
                                       ? "rank 0 stopped answering (it serves the store: killed, crashed or hung)"
                                       : "the store stopped answering too";
    const std::string fallback =
        collective ? absl::StrCat(benchmark, ": ", store_gone, "; here: ", reason)
                   : absl::StrCat(benchmark, ": ", reason, " (the other ranks stop at their next collective)");
    const auto guard_deadline = start + wait_limit + extra_wait + std::chrono::seconds(1);
    std::thread([w, fallback, guard_deadline] {
      std::this_thread::sleep_until(guard_deadline);
      SayAndExit(w, fallback);
    }).detach();
  }
  bool store_answers = store != nullptr;
  if (store_answers) {
    // The main thread (EndWorld) and the failure watch may both end this rank at once: it is
    // counted once, and its own failure is not overwritten by the watch's "waiting" word.
    static std::mutex word_mutex;
    static bool counted = false;
    static bool said_own = false;
    const std::lock_guard<std::mutex> lock(word_mutex);
    try {
      if (!(collective && said_own)) {
        store->set(key(w.rank), absl::StrCat(collective ? "collective|" : kOwn, benchmark, ": ", reason));
        said_own = said_own || !collective;
      }
      if (!counted) (void)store->add(EndedCountKey(), 1);
      counted = true;
    } catch (const std::exception&) {
      store_answers = false;
    }
  }
  std::string line;
  if (!collective) {
    line = absl::StrCat(benchmark, ": ", reason, " (the other ranks stop at their next collective)");
    if (serves_store && store_answers) {
      // Until every other rank has said it saw the failure (or the wait is over).
      std::vector<std::string> others;
      for (int r = 1; r < w.size; ++r) others.push_back(key(r));
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(start + wait_limit - std::chrono::steady_clock::now());
      // At least 1 ms: c10d reads a zero timeout as none.
      (void)AwaitKeys(*store, others, std::max(left, std::chrono::milliseconds(1)));
    }
  } else {
    // Who caused it: a rank that failed on its own says so in the store (above); the ranks it
    // left waiting see their collectives fail and say that; a rank killed says nothing.
    std::map<int, std::string> words;
    const auto deadline = start + wait_limit + extra_wait;
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
  SayAndExit(w, line);
}

}  // namespace
}  // namespace trainbench
