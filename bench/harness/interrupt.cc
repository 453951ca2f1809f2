#include "bench/harness/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace trainbench {
namespace {

// Written only from the signal handler, read by the training thread between steps. A
// lock-free atomic is async-signal-safe.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void OnStopSignal(int signal_number) {
  int expected = 0;
  if (g_stop_signal.compare_exchange_strong(expected, signal_number)) return;
  // A second signal: the user does not want to wait for the step to end. Only
  // async-signal-safe calls here (write, _exit). The results file on disk is complete: it is
  // only ever replaced by a rename.
  static const char kLine[] = "trainbench: second signal: exiting now\n";
  ssize_t ignored = write(STDERR_FILENO, kLine, sizeof(kLine) - 1);
  (void)ignored;
  _exit(128 + signal_number);
}

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: a read or write in progress (data files, the results file) is resumed, not
  // failed with EINTR; the stop is taken at the next step boundary anyway.
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A closed terminal or ssh session: stop as for SIGTERM (exit 129), with the summary line and
  // the rows marked, rather than die of the default action with neither.
  // Under nohup (SIGHUP ignored) it stays ignored: the run goes on after the terminal closes.
  struct sigaction hup;
  if (sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler != SIG_IGN) sigaction(SIGHUP, &action, nullptr);
}

bool StopRequested() { return g_stop_signal.load(std::memory_order_relaxed) != 0; }

int StopSignal() { return g_stop_signal.load(std::memory_order_relaxed); }

void RequestStop(int signal_number) {
  int expected = 0;
  g_stop_signal.compare_exchange_strong(expected, signal_number);
}

std::string SignalName(int signal_number) {
  switch (signal_number) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return absl::StrCat("signal ", signal_number);
  }
}

int InterruptExitStatus(int signal_number) { return 128 + signal_number; }

std::string InterruptedMessage(int signal_number) {
  return absl::StrCat(kInterruptedPrefix, SignalName(signal_number));
}

std::string NotRunMessage(int signal_number) { return absl::StrCat(kNotRunPrefix, InterruptedMessage(signal_number)); }

}  // namespace trainbench
