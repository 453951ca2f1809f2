#include "tests/test_device.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <functional>
#include <string_view>
#include <utility>

#include <ATen/ops/from_blob.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "fixtures/device_runtime.h"
#include "fixtures/stream_context.h"
#include "tests/test_device_runtime.h"

namespace trainbench {

std::string FaultMessage(Fault f) {
  switch (f) {
    case Fault::kCudaOutOfMemory:
      return "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB";
    case Fault::kCudaErrorMemory: return "CUDA error: out of memory";
    case Fault::kCublasAlloc: return "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`";
    case Fault::kCudnnAlloc: return "cuDNN error: CUDNN_STATUS_ALLOC_FAILED";
    case Fault::kCudnnHostAlloc: return "cuDNN error: CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED";
    case Fault::kCudnnDeviceAlloc: return "cuDNN error: CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED";
    case Fault::kIllegalAddress: return "CUDA error: an illegal memory access was encountered";
    case Fault::kCaptureInvalidated: return "CUDA error: operation not permitted when stream is capturing";
  }
  return "";
}

bool IsOutOfMemoryFault(Fault f) { return f != Fault::kIllegalAddress && f != Fault::kCaptureInvalidated; }

const std::vector<Fault>& AllFaults() {
  static const std::vector<Fault> all = {Fault::kCudaOutOfMemory, Fault::kCudaErrorMemory,   Fault::kCublasAlloc,
                                         Fault::kCudnnAlloc,      Fault::kCudnnHostAlloc,    Fault::kCudnnDeviceAlloc,
                                         Fault::kIllegalAddress,  Fault::kCaptureInvalidated};
  return all;
}

void TestDevice::FailAt(FaultSite site, int n, Fault f) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  armed_[site] = {n, f};
}
std::vector<std::string> TestDevice::violations() const {
  return Locked([&] { return violations_; });
}
int TestDevice::captures() const {
  return Locked([&] { return captures_; });
}
int TestDevice::capture_streams() const {
  return Locked([&] { return static_cast<int>(capture_streams_.size()); });
}
int TestDevice::live_graphs() const {
  return Locked([&] { return live_graphs_; });
}
bool TestDevice::tracer_attached() const {
  return Locked([&] { return attached_; });
}
int TestDevice::tracer_attaches() const {
  return Locked([&] { return attaches_; });
}
int64_t TestDevice::pinned_live_bytes() const {
  return Locked([&] { return pinned_live_; });
}
bool TestDevice::sticky() const {
  return Locked([&] { return sticky_.has_value(); });
}

void TestEvent::Record(RuntimeStream& s) {
  rt_.Check("event record");
  if (rt_.IsCompute(s)) rt_.Count(FaultSite::kStep);
  std::lock_guard<std::recursive_mutex> lock(rt_.d().mu_);
  stream_ = rt_.IsCompute(s) ? nullptr : &static_cast<TestStream&>(s);
  position_ = stream_ != nullptr ? stream_->queued : 0;
  recorded_ = true;
  if (timing_) at_ = std::chrono::steady_clock::now();
}

void TestEvent::Block(RuntimeStream& s) {
  rt_.Check("stream wait");
  if (stream_ == nullptr) return;  // recorded on the compute stream, or never: nothing to wait for
  if (rt_.IsCompute(s)) {
    // The compute stream runs at once, so its wait ends now: the copy's bytes are delivered,
    // but the host does not learn from this that the copy is done.
    rt_.Drain(*stream_, position_, /*complete=*/false);
    return;
  }
  auto& waiter = static_cast<TestStream&>(s);
  std::lock_guard<std::recursive_mutex> lock(rt_.d().mu_);
  waiter.ops.push_back(
      TestOp{[rt = &rt_, stream = stream_, position = position_] { rt->Drain(*stream, position, /*complete=*/false); },
             nullptr});
  ++waiter.queued;
}

void TestEvent::Synchronize() {
  rt_.Check("event synchronize");
  rt_.NoteHostWait("event synchronize");
  if (stream_ != nullptr && rt_.d().options.fences_wait) rt_.Drain(*stream_, position_, /*complete=*/true);
}

TestGraph::TestGraph(TestRuntime& rt, std::function<void()> step) : rt_(rt), step_(std::move(step)) {
  std::lock_guard<std::recursive_mutex> lock(rt_.d().mu_);
  ++rt_.d().live_graphs_;
}
TestGraph::~TestGraph() {
  std::lock_guard<std::recursive_mutex> lock(rt_.d().mu_);
  --rt_.d().live_graphs_;
}
void TestGraph::Replay() {
  rt_.Check("graph replay");
  rt_.Count(FaultSite::kStep);
  step_();
}

std::unique_ptr<DeviceContext> MakeTestDeviceContext(const std::shared_ptr<TestDevice>& device) {
  return MakeStreamContext(std::make_unique<TestRuntime>(device));
}

}  // namespace trainbench
