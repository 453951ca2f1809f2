// Ending a world: the one line each rank says when a collective fails or a rank fails on its
// own (who caused it, read from the store), the guard for a store that hangs, and the failure
// watch that ends a rank blocked on a rank that has already ended.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/dist/distributed.h"
#include "bench/dist/process_groups.h"
#include "bench/dist/store_keys.h"

namespace trainbench {

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
