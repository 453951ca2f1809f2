// The test device's runtime (tests/test_device.h): streams whose copies land as late as CUDA
// allows, events, graphs and the caching allocator, with the contract checks and the faults.
// Included by tests/test_device.cc alone; in a header of its own so that the runtime and the
// device's bookkeeping each read as one unit.
#pragma once

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
#include "tests/test_device.h"

namespace trainbench {

// CUDA's current device per thread: 0 on a thread nobody set it on.
inline thread_local int t_current_device = 0;

// A copy's two ends: its bytes reach the device (deliver: the compute stream waits only for
// that), and it stops reading its source (complete: only a host wait or a device synchronize
// tells the host that much, so a slot rewritten before then may still be read).
struct TestOp {
  std::function<void()> deliver;
  std::function<void()> complete;
};

struct TestStream final : RuntimeStream {
  std::deque<TestOp> ops;  // queued and not complete; the first (delivered - done) delivered
  int64_t queued = 0;      // ops ever queued
  int64_t delivered = 0;
  int64_t done = 0;
};
inline thread_local TestStream* t_current_stream = nullptr;  // null: the compute stream

inline size_t Checksum(const at::Tensor& bytes) {
  return std::hash<std::string_view>{}(
      std::string_view(static_cast<const char*>(bytes.const_data_ptr()), static_cast<size_t>(bytes.nbytes())));
}

class TestRuntime;

class TestEvent final : public RuntimeEvent {
 public:
  TestEvent(TestRuntime& rt, bool timing) : rt_(rt), timing_(timing) {}
  void Record(RuntimeStream& s) override;
  void Block(RuntimeStream& s) override;
  void Synchronize() override;
  double SecondsSince(RuntimeEvent& start) override {
    auto& from = static_cast<TestEvent&>(start);
    // As cudaEventElapsedTime: both with timing, both recorded.
    if (!timing_ || !from.timing_)
      C10_THROW_ERROR(Error, "CUDA error: invalid resource handle (an event without timing)");
    if (!recorded_ || !from.recorded_) C10_THROW_ERROR(Error, "CUDA error: device not ready (an event never recorded)");
    Synchronize();
    return std::chrono::duration<double>(at_ - from.at_).count();
  }

 private:
  TestRuntime& rt_;
  const bool timing_;
  TestStream* stream_ = nullptr;
  int64_t position_ = 0;
  bool recorded_ = false;
  std::chrono::steady_clock::time_point at_;
};

class TestGraph final : public StepGraph {
 public:
  TestGraph(TestRuntime& rt, std::function<void()> step);
  ~TestGraph() override;
  void Replay() override;

 private:
  TestRuntime& rt_;
  std::function<void()> step_;
};

class TestRuntime final : public DeviceRuntime {
 public:
  explicit TestRuntime(std::shared_ptr<TestDevice> d) : d_(std::move(d)) {
    t_current_device = d_->options.gpu;
    streams_.push_back(&compute_);
  }

  TestDevice& d() { return *d_; }

  // Every call: the calling thread's current device, and a sticky error.
  void Check(const char* call) {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    if (t_current_device != d_->options.gpu) {
      d_->violations_.push_back(absl::StrCat(call, " on a thread whose current device is GPU ", t_current_device,
                                             ", not the context's GPU ", d_->options.gpu));
    }
    if (d_->sticky_) C10_THROW_ERROR(Error, *d_->sticky_);
  }
  // Throws the fault armed at site when its count runs out.
  void Count(FaultSite site) {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    auto it = d_->armed_.find(site);
    if (it == d_->armed_.end() || --it->second.first > 0) return;
    const Fault f = it->second.second;
    d_->armed_.erase(it);
    const std::string message = FaultMessage(f);
    if (f == Fault::kIllegalAddress) d_->sticky_ = message;
    if (f == Fault::kCudaOutOfMemory) C10_THROW_ERROR(OutOfMemoryError, message);
    C10_THROW_ERROR(Error, message);
  }
  // Runs s's ops up to position: delivered, and with complete also completed.
  void Drain(TestStream& s, int64_t position, bool complete) {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    position = std::min(position, s.queued);
    while (s.delivered < position) {
      const int64_t i = s.delivered - s.done;
      ++s.delivered;
      if (s.ops[i].deliver) s.ops[i].deliver();
    }
    while (complete && s.done < position) {
      TestOp op = std::move(s.ops.front());
      s.ops.pop_front();
      ++s.done;
      if (op.complete) op.complete();
    }
  }
  bool IsCompute(RuntimeStream& s) const { return &s == &compute_; }
  void NoteHostWait(const char* what) {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    if (d_->capturing_) d_->violations_.push_back(absl::StrCat(what, " during graph capture"));
  }

  // Device or pinned memory that reports its own release to the allocator's counters.
  at::Tensor Allocate(int64_t bytes, bool pinned) {
    {
      std::lock_guard<std::recursive_mutex> lock(d_->mu_);
      if (pinned) {
        d_->pinned_live_ += bytes;
      } else {
        d_->allocated_ += bytes;
        d_->cached_ = std::max<int64_t>(0, d_->cached_ - bytes);  // a cached block is reused first
        d_->allocated_peak_ = std::max(d_->allocated_peak_, d_->allocated_);
        d_->reserved_peak_ = std::max(d_->reserved_peak_, d_->allocated_ + d_->cached_);
      }
    }
    void* p = std::malloc(static_cast<size_t>(std::max<int64_t>(bytes, 1)));
    std::shared_ptr<TestDevice> d = d_;
    return at::from_blob(
        p, {bytes},
        [d, bytes, pinned](void* q) {
          std::free(q);
          std::lock_guard<std::recursive_mutex> lock(d->mu_);
          if (pinned) {
            d->pinned_live_ -= bytes;
          } else {
            d->allocated_ -= bytes;
            d->cached_ += bytes;  // kept by the allocator until EmptyCaches
          }
        },
        at::TensorOptions().dtype(at::kByte));
  }

  c10::Device device() const override { return c10::Device(c10::kCPU); }
  // As CUDA's: the current stream (another one inside OnStream), which LibTorch queues on.
  RuntimeStream& ComputeStream() override {
    if (t_current_stream != nullptr) return *t_current_stream;
    return compute_;
  }
  std::unique_ptr<RuntimeStream> NewStream() override {
    auto s = std::make_unique<TestStream>();
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    streams_.push_back(s.get());
    return s;
  }
  void OnStream(RuntimeStream& s, const std::function<void()>& work) override {
    struct Restore {
      TestStream* previous = t_current_stream;
      ~Restore() { t_current_stream = previous; }
    } restore;
    t_current_stream = IsCompute(s) ? nullptr : &static_cast<TestStream&>(s);
    work();
  }
  std::unique_ptr<RuntimeEvent> NewEvent(bool timing) override { return std::make_unique<TestEvent>(*this, timing); }

  absl::Status Synchronize() override {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    if (d_->sticky_) return absl::InternalError(*d_->sticky_);
    NoteHostWait("device synchronize");
    for (TestStream* s : streams_) Drain(*s, s->queued, /*complete=*/true);
    return absl::OkStatus();
  }
  void ClearLastError() override {}
  void MakeCurrentOnThisThread() override { t_current_device = d_->options.gpu; }

  at::Tensor EmptyDevice(int64_t bytes) override {
    Check("device allocation");
    return Allocate(bytes, /*pinned=*/false);
  }
  void CopyInto(at::Tensor& block, const at::Tensor& host, bool non_blocking) override {
    Check("copy to device");
    Count(FaultSite::kCopy);
    TestStream* s = t_current_stream;
    if (s == nullptr || !non_blocking) {
      block.copy_(host);
      return;
    }
    block.fill_(0xff);  // what a step reading it before its copy ran would see
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    const size_t expected = Checksum(host);
    s->ops.push_back(TestOp{[host, block]() mutable { block.copy_(host); },
                            [this, host, expected] {
                              if (Checksum(host) != expected) {
                                d_->violations_.push_back(
                                    "a host slot was rewritten before its copy to the device was known to be done");
                              }
                            }});
    ++s->queued;
  }
  at::Tensor EmptyPinned(int64_t bytes) override {
    Check("pinned allocation");
    Count(FaultSite::kPinned);
    return Allocate(bytes, /*pinned=*/true);
  }

  void EmptyCaches() override {
    Check("empty caches");
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    d_->cached_ = 0;
  }
  AllocatorStats Stats() override {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    return AllocatorStats{d_->allocated_, d_->allocated_peak_, d_->allocated_ + d_->cached_, d_->reserved_peak_};
  }
  void ResetPeakStats() override {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    d_->allocated_peak_ = d_->allocated_;
    d_->reserved_peak_ = d_->allocated_ + d_->cached_;
  }
  std::optional<int64_t> FreeDeviceBytes() override {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    if (d_->sticky_) return std::nullopt;  // cudaMemGetInfo fails too
    return d_->options.capacity_bytes - d_->allocated_ - d_->cached_;
  }

  std::unique_ptr<StepGraph> Capture(RuntimeStream& s, const std::function<void()>& step) override {
    Check("graph capture");
    {
      std::lock_guard<std::recursive_mutex> lock(d_->mu_);
      ++d_->captures_;
      if (std::find(d_->capture_streams_.begin(), d_->capture_streams_.end(), &s) == d_->capture_streams_.end()) {
        d_->capture_streams_.push_back(&s);
        // cuBLAS's workspace for (handle, this stream): emptying the cache does not free it.
        workspaces_.push_back(Allocate(d_->options.workspace_bytes, /*pinned=*/false));
      }
      d_->capturing_ = true;
    }
    struct EndCapture {
      TestDevice& d;
      ~EndCapture() {
        std::lock_guard<std::recursive_mutex> lock(d.mu_);
        d.capturing_ = false;
      }
    } end{*d_};
    Count(FaultSite::kCapture);
    OnStream(s, step);
    return std::make_unique<TestGraph>(*this, step);
  }

  void HoldComputeStream(double) override { Check("device-side wait"); }

  bool HasTracer() const override { return d_->options.tracer; }
  absl::Status StartTrace() override {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    if (!d_->attached_ && d_->live_graphs_ > 0) d_->violations_.push_back("CUPTI attached while a CUDA graph exists");
    d_->attached_ = true;
    ++d_->attaches_;
    trace_start_ = std::chrono::steady_clock::now();
    return absl::OkStatus();
  }
  absl::StatusOr<KernelTraceNs> StopTrace() override {
    std::lock_guard<std::recursive_mutex> lock(d_->mu_);
    if (d_->live_graphs_ > 0) d_->violations_.push_back("CUPTI finalized while a CUDA graph exists");
    d_->attached_ = false;
    const auto wall = std::chrono::steady_clock::now() - trace_start_;
    const auto wall_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count());
    // The test device runs no kernels: half the span, so the counters have a value to carry.
    return KernelTraceNs{wall_ns, wall_ns / 2, 0};
  }

  std::vector<std::pair<std::string, std::string>> Describe() const override {
    return {{"device_name", "trainbench test device"}, {"test_device_gpu", absl::StrCat(d_->options.gpu)}};
  }

 private:
  std::shared_ptr<TestDevice> d_;
  TestStream compute_;
  std::vector<TestStream*> streams_;  // guarded by d_->mu_; the context owns them for its life
  std::vector<at::Tensor> workspaces_;
  std::chrono::steady_clock::time_point trace_start_;
};

}  // namespace trainbench
