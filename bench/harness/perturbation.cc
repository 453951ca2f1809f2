#include "bench/harness/perturbation.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/strings/str_format.h"

namespace trainbench {
namespace {

// Written by the SIGCONT handler and the watchdog thread, read by the benchmark thread.
std::atomic<int64_t> g_continued{0};
std::atomic<int64_t> g_stalls{0};
std::atomic<int64_t> g_stalled_ns{0};
static_assert(std::atomic<int64_t>::is_always_lock_free);

extern "C" void OnContinue(int) { g_continued.fetch_add(1, std::memory_order_relaxed); }

int64_t BootTimeNs() {
  timespec t{};
  clock_gettime(CLOCK_BOOTTIME, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

void Watch() {
  const int64_t tick_ns = std::chrono::nanoseconds(kWatchdogTick).count();
  const int64_t stall_ns = std::chrono::nanoseconds(kStallGap).count();
  int64_t last = BootTimeNs();
  for (;;) {
    std::this_thread::sleep_for(kWatchdogTick);
    const int64_t now = BootTimeNs();
    if (const int64_t stalled = StalledNanoseconds(now - last, tick_ns, stall_ns); stalled > 0) {
      g_stalled_ns.fetch_add(stalled, std::memory_order_relaxed);
      g_stalls.fetch_add(1, std::memory_order_relaxed);
    }
    last = now;
  }
}

}  // namespace

void StartPerturbationWatch() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_handler = OnContinue;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // a read or write in progress goes on after the pause
    sigaction(SIGCONT, &action, nullptr);
    // Detached: it only sleeps and touches the atomics above (trivially destructible), so it
    // may still be asleep when the process exits.
    std::thread(Watch).detach();
  });
}

PerturbationMark PerturbationNow() {
  return {g_continued.load(std::memory_order_relaxed), g_stalls.load(std::memory_order_relaxed),
          g_stalled_ns.load(std::memory_order_relaxed)};
}

Perturbation PerturbationBetween(const PerturbationMark& before, const PerturbationMark& after) {
  Perturbation p;
  p.pauses = std::max(after.continued - before.continued, after.stalls - before.stalls);
  p.paused_seconds = static_cast<double>(after.stalled_ns - before.stalled_ns) * 1e-9;
  return p;
}

int64_t StalledNanoseconds(int64_t gap_ns, int64_t tick_ns, int64_t stall_gap_ns) {
  return gap_ns >= stall_gap_ns ? gap_ns - tick_ns : 0;
}

std::string PerturbedLine(const std::string& benchmark, const Perturbation& p) {
  return absl::StrFormat(
      "%s: perturbed: the process was paused %d time(s) for %.1f s while it ran; its numbers are not comparable "
      "(tools/compare.py does not judge it)",
      benchmark, p.pauses, p.paused_seconds);
}

}  // namespace trainbench
