// bench/harness/interrupt.h: the stop flag, a second signal, the messages and exit status.
#include <signal.h>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "bench/harness/interrupt.h"

namespace trainbench {
namespace {

TEST(InterruptTest, FirstSignalOnlyRequestsAStop) {
  // In a child, so the flag and the handlers do not leak into the other tests.
  EXPECT_EXIT(
      {
        InstallInterruptHandlers();
        if (StopRequested() || StopSignal() != 0) std::_Exit(1);
        raise(SIGTERM);
        if (!StopRequested() || StopSignal() != SIGTERM) std::_Exit(2);
        std::_Exit(42);  // still alive after the first signal
      },
      ::testing::ExitedWithCode(42), "");
  EXPECT_EXIT(
      {
        InstallInterruptHandlers();
        raise(SIGHUP);  // a closed terminal: a stop, as SIGTERM
        if (!StopRequested() || StopSignal() != SIGHUP) std::_Exit(2);
        std::_Exit(42);
      },
      ::testing::ExitedWithCode(42), "");
}

TEST(InterruptTest, SecondSignalExitsAtOnceWith128PlusTheSignal) {
  EXPECT_EXIT(
      {
        InstallInterruptHandlers();
        raise(SIGINT);
        raise(SIGINT);
        std::_Exit(0);  // not reached
      },
      ::testing::ExitedWithCode(130), "second signal");
  EXPECT_EXIT(
      {
        InstallInterruptHandlers();
        raise(SIGTERM);
        raise(SIGINT);  // the status is the second signal's: the one that ended the process
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(130), "second signal");
}

TEST(InterruptTest, NamesMessagesAndExitStatus) {
  EXPECT_EQ(SignalName(SIGINT), "SIGINT");
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(SignalName(SIGHUP), "SIGHUP");
  EXPECT_EQ(InterruptExitStatus(SIGHUP), 129);
  EXPECT_EQ(InterruptExitStatus(SIGINT), 130);
  EXPECT_EQ(InterruptExitStatus(SIGTERM), 143);
  EXPECT_EQ(InterruptedMessage(SIGINT), "interrupted by SIGINT");
  EXPECT_EQ(NotRunMessage(SIGTERM), "not run: interrupted by SIGTERM");
  EXPECT_TRUE(absl::StartsWith(NotRunMessage(SIGINT), kNotRunPrefix));
  EXPECT_TRUE(absl::StartsWith(InterruptedMessage(SIGINT), kInterruptedPrefix));
}

}  // namespace
}  // namespace trainbench
