// What the distributed runtime's files share (bench/dist/): the prefix of trainbench's keys
// in the world's store, the reason line of a c10d failure, and a quiet wait for keys.
#pragma once

#include <algorithm>
#include <chrono>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include <c10/util/Logging.h>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace trainbench {

// Every key trainbench sets in the world's store starts with this (torchrun's agent keeps its
// own keys in the same store).
inline constexpr char kStorePrefix[] = "trainbench/";

// The first line of a c10d exception, without LibTorch's C++ backtrace.
std::string Reason(const std::exception& e);

// Whether e is a collective's failure (a peer gone, a timeout), as opposed to this rank's own.
bool IsCollectiveFailure(const std::exception& e);

// c10d logs each failed connection attempt with a C++ backtrace (ERROR and WARNING lines) while
// it retries; the rendezvous' outcome is one line of ours, so only FATAL is let through while it
// runs. c10's own log threshold (LibTorch built without glog): 0 INFO .. 3 FATAL.
// Threads may overlap (the failure watch polls the store beside the main thread): the first
// quiet raises the threshold, the last one puts it back.
class QuietC10Log {
 public:
  QuietC10Log() {
    const std::lock_guard<std::mutex> lock(state().mutex);
    if (state().active++ == 0) {
      state().saved = FLAGS_caffe2_log_level;
      FLAGS_caffe2_log_level = std::max(state().saved, 3);
    }
  }
  ~QuietC10Log() {
    const std::lock_guard<std::mutex> lock(state().mutex);
    if (--state().active == 0) FLAGS_caffe2_log_level = state().saved;
  }
  QuietC10Log(const QuietC10Log&) = delete;
  QuietC10Log& operator=(const QuietC10Log&) = delete;

 private:
  struct State {
    std::mutex mutex;
    int active = 0;
    int saved = 0;
  };
  // Never destroyed: a detached thread may still be quiet while the process exits.
  static State& state() {
    static State* s = new State;
    return *s;
  }
};

// Waits until the store holds every key, for timeout at most (c10d's Store::wait); false when
// they did not all come in time or the store failed. Quiet: a timeout here is expected when a
// rank is dead, and the caller says what it means.
bool AwaitKeys(c10d::Store& store, const std::vector<std::string>& keys, std::chrono::milliseconds timeout);

}  // namespace trainbench
