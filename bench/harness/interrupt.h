// SIGINT, SIGTERM and SIGHUP as a request to stop the run at the next step boundary.
//
// The first signal only sets an async-signal-safe flag: the training and loader loops check it
// between steps (ThrowIfInterrupted in bench/harness/harness.h), the running benchmark is recorded as
// skipped with "interrupted by SIGINT", every later one returns at once as "not run:
// interrupted by SIGINT", and main exits with 128 + the signal number (130, 143, 129) after the
// results file is final. A second signal exits at once with the same status; the results file
// on disk is still the complete one from the last finished benchmark (bench/harness/results_file.h).
//
// Torch-free and Google-Benchmark-free, so it is tested on its own.
#pragma once

#include <string>

namespace trainbench {

// Installs the handlers for SIGINT, SIGTERM and SIGHUP. Call once, before the benchmarks run.
void InstallInterruptHandlers();

// True once SIGINT, SIGTERM or SIGHUP has arrived.
[[nodiscard]] bool StopRequested();

// The first signal that arrived (SIGINT or SIGTERM), 0 if none.
[[nodiscard]] int StopSignal();

// Stops this process as if signal_number had arrived (no-op once a stop is requested). For a
// world of several ranks: a signal that reached one rank stops all of them at the same
// benchmark boundary, once they have agreed on it (bench/dist/distributed.h, AgreedStopSignal).
void RequestStop(int signal_number);

// "SIGINT", "SIGTERM", "SIGHUP", or "signal N".
[[nodiscard]] std::string SignalName(int signal_number);

// The exit status after stopping on signal_number: 128 + signal_number, as shells report a
// process killed by it (130 for SIGINT, 143 for SIGTERM).
[[nodiscard]] int InterruptExitStatus(int signal_number);

// Error messages of the benchmarks a stop cuts short, recorded in the JSON (error_message):
// the one running: "interrupted by SIGINT"; each one after it: "not run: interrupted by SIGINT".
[[nodiscard]] std::string InterruptedMessage(int signal_number);
[[nodiscard]] std::string NotRunMessage(int signal_number);
inline constexpr char kInterruptedPrefix[] = "interrupted by ";
inline constexpr char kNotRunPrefix[] = "not run: ";

// Thrown at a step boundary once a stop is requested; RunOrSkip (bench/harness/harness.cc) turns it into
// the skip. Not derived from std::exception, so that no catch-all for library errors on the way
// mistakes it for a failure of the benchmark.
struct Interrupted {
  int signal_number;
};

}  // namespace trainbench
