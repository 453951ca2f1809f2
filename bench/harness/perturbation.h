// Pauses of the whole process while a benchmark runs: a SIGSTOP (Ctrl-Z, a scheduler's
// preemption, `kill -STOP`) and the SIGCONT that ends it, or any stall no signal announces
// (a system suspend, a debugger's stop, a VM paused by its host, heavy swapping).
//
// A paused run's numbers are wrong without looking it: 6 s stopped inside a timed epoch read
// as 107 samples/s against 285. So the harness marks such a row (bench/harness/harness.cc,
// RegisterNamed: the counters "perturbed" and "paused_s", and a console line), and the tools
// refuse to judge it (tools/regressions.py).
//
// Two detectors, because neither sees everything:
//   - SIGCONT: counted by a handler (async-signal-safe: one atomic increment). It arrives after
//     every SIGSTOP/SIGTSTP, however short.
//   - A watchdog thread that wakes every kWatchdogTick and reads CLOCK_BOOTTIME (which, unlike
//     the steady clock the timers use, also runs while the system is suspended). A wake-up
//     later than kStallGap after the previous one is a stall; the time beyond one tick is
//     what it cost. A stopped process stops its watchdog too, so a SIGSTOP shows as both.
//
// Torch-free and Google-Benchmark-free, so it is tested on its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace trainbench {

// How often the watchdog wakes, and the gap between wake-ups that counts as a stall. 1 s is
// far beyond a loaded machine's scheduling delay for a sleeping thread (milliseconds, even with
// every core busy training), and short against an epoch (seconds); a shorter SIGSTOP is still
// seen by its SIGCONT.
inline constexpr std::chrono::milliseconds kWatchdogTick{50};
inline constexpr std::chrono::milliseconds kStallGap{1000};

// Installs the SIGCONT handler and starts the watchdog (once per process; later calls do
// nothing).
void StartPerturbationWatch();

// The process's totals so far: SIGCONTs received, stalls seen, and their length.
struct PerturbationMark {
  int64_t continued = 0;
  int64_t stalls = 0;
  int64_t stalled_ns = 0;
};
[[nodiscard]] PerturbationMark PerturbationNow();

// What happened between two marks.
struct Perturbation {
  // Pauses: each SIGCONT and each stall. A SIGSTOP that the watchdog also saw as a stall is
  // one pause (the larger of the two counts), not two.
  int64_t pauses = 0;
  // Their length by the watchdog's clock; 0 for pauses shorter than kStallGap.
  double paused_seconds = 0;
  [[nodiscard]] bool any() const { return pauses > 0; }
};
[[nodiscard]] Perturbation PerturbationBetween(const PerturbationMark& before, const PerturbationMark& after);

// The watchdog's rule, for one wake-up gap_ns after the previous one: the nanoseconds it adds
// to a stall (gap minus one tick), or 0 when the gap is not a stall. Pure, so it is tested
// with made-up gaps.
[[nodiscard]] int64_t StalledNanoseconds(int64_t gap_ns, int64_t tick_ns, int64_t stall_gap_ns);

// The console line for a row that was paused: "BM_X: perturbed: the process was paused 1
// time(s) for 6.0 s while it ran; its numbers are not comparable (tools/compare.py does not
// judge it)".
[[nodiscard]] std::string PerturbedLine(const std::string& benchmark, const Perturbation& p);

}  // namespace trainbench
