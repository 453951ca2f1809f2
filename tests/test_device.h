// The tests' test device: a DeviceRuntime (fixtures/device_runtime.h) that runs the math on
// the CPU but keeps the contract the CUDA runtime keeps, so that the stream context
// (fixtures/stream_context.h), the families and main run their CUDA control flow here:
//   - streams other than the compute stream are asynchronous, and as late as CUDA allows: a
//     copy queued there delivers its bytes only when something waits for it (the compute
//     stream's wait, an event's host wait, a device synchronize), and is known to be done
//     reading its source only at a host wait or a device synchronize. The source is checked
//     then: a host slot rewritten before its copy was known to be done is a violation. A
//     block is poisoned (0xff: NaN images, label -1) until its bytes arrive, so a step that
//     reads it without waiting fails;
//   - the compute stream runs what LibTorch queues at once (CPU math), after draining what it
//     was told to wait for;
//   - each thread has a current device, 0 on a new thread, as in CUDA: a call on a thread whose
//     current device is not the test device's is a violation;
//   - a caching allocator for staged blocks and pinned memory, with peaks and a cache that only
//     EmptyCaches hands back, and a workspace (cuBLAS's) for each stream a capture runs on;
//   - graph capture (the step runs once at capture and once per replay), with no host wait
//     allowed inside it, and a kernel tracer that may not attach or detach while a graph exists;
//   - injectable faults: an allocation failure of each kind the harness classifies, a sticky
//     error after which every call fails, a failure inside capture.
// What it saw is in TestDevice, which the test keeps after the context took the runtime.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fixtures/device.h"

namespace trainbench {

enum class Fault {
  kCudaOutOfMemory,     // c10::OutOfMemoryError "CUDA out of memory. Tried to allocate ..."
  kCudaErrorMemory,     // "CUDA error: out of memory" (cudaHostAlloc, cudaMalloc outside the allocator)
  kCublasAlloc,         // CUBLAS_STATUS_ALLOC_FAILED
  kCudnnAlloc,          // CUDNN_STATUS_ALLOC_FAILED (cuDNN 8)
  kCudnnHostAlloc,      // CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED (cuDNN 9)
  kCudnnDeviceAlloc,    // CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED (cuDNN 9)
  kIllegalAddress,      // sticky: every later call fails
  kCaptureInvalidated,  // a failure inside graph capture
};
// The first line of the error the real runtime raises for f.
[[nodiscard]] std::string FaultMessage(Fault f);
[[nodiscard]] bool IsOutOfMemoryFault(Fault f);
[[nodiscard]] const std::vector<Fault>& AllFaults();

// Where a fault is injected: the n-th such call from the moment it is armed.
enum class FaultSite {
  kCopy,     // a copy to the device (CopyToDevice)
  kStep,     // an event recorded on the compute stream (step marks, timers, each pinned staging)
  kPinned,   // a pinned allocation (a loader slot, a transfer buffer)
  kCapture,  // a graph capture
};

struct TestDeviceOptions {
  int gpu = 0;                                 // the GPU index it pretends to be
  bool fences_wait = true;                     // false: an event's host wait returns at once (a broken fence)
  bool tracer = true;                          // a kernel tracer is there
  int64_t capacity_bytes = int64_t{8} << 30;   // device memory
  int64_t workspace_bytes = int64_t{4} << 20;  // per capture stream
};

// What the test device saw, and its faults; shared by the runtime and the test.
class TestDevice {
 public:
  explicit TestDevice(TestDeviceOptions options) : options(options) {}

  // Arms f at the n-th call at site from now (n >= 1).
  void FailAt(FaultSite site, int n, Fault f);

  [[nodiscard]] std::vector<std::string> violations() const;
  [[nodiscard]] int captures() const;
  [[nodiscard]] int capture_streams() const;  // distinct streams captures ran on
  [[nodiscard]] int live_graphs() const;
  [[nodiscard]] bool tracer_attached() const;
  [[nodiscard]] int tracer_attaches() const;
  [[nodiscard]] int64_t pinned_live_bytes() const;
  [[nodiscard]] bool sticky() const;

  const TestDeviceOptions options;

 private:
  // f() under the device's lock: the accessors' reads.
  template <typename F>
  auto Locked(F f) const {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return f();
  }
  friend class TestRuntime;
  friend class TestEvent;
  friend class TestGraph;
  mutable std::recursive_mutex mu_;
  std::vector<std::string> violations_;
  std::map<FaultSite, std::pair<int, Fault>> armed_;
  std::optional<std::string> sticky_;
  int captures_ = 0;
  std::vector<const void*> capture_streams_;
  int live_graphs_ = 0;
  bool capturing_ = false;
  bool attached_ = false;
  int attaches_ = 0;
  int64_t allocated_ = 0, allocated_peak_ = 0, cached_ = 0, reserved_peak_ = 0;
  int64_t pinned_live_ = 0;
};

// A DeviceContext (the real stream context) over the test device.
[[nodiscard]] std::unique_ptr<DeviceContext> MakeTestDeviceContext(const std::shared_ptr<TestDevice>& device);

}  // namespace trainbench
