// BM_HostToDevice and BM_DeviceToHost: copies of `bytes` between host and GPU memory, pinned
// or pageable host memory, timed by CUDA events on the compute stream: the lab's "why does
// data transfer become a bottleneck" in GB/s (10^9 bytes per second) and as a share of the
// PCIe link's theoretical rate (as negotiated under load). Registered only where a GPU is
// present.
//
// One iteration moves at least kMinBytesPerIteration (several copies of a small size), and
// the stream is held by a short device-side wait before the start event, so the copies are
// all queued when the interval starts: the 5-10 us the host spends dispatching each copy
// would otherwise sit inside the interval and make small pinned copies look slow.
#include <benchmark/benchmark.h>

#include <algorithm>

#include <ATen/ops/empty.h>

#include "absl/strings/str_cat.h"
#include "bench/harness/harness.h"

namespace trainbench {
namespace {

constexpr int64_t kMinBytesPerIteration = int64_t{8} << 20;
// Longer than the host needs to queue an iteration's copies (at most 128 of 64 KiB, about
// 1 ms at 8 us each), short next to the copies' own time for the large sizes.
constexpr double kStreamHoldSeconds = 2e-3;

void TransferBenchmark(benchmark::State& state, const std::string& name, bool to_device, int64_t bytes, bool pinned,
                       const Harness& env) {
  DeviceContext& ctx = *env.cuda;
  double seconds = 0;
  int64_t copies = 0;
  const int64_t copies_per_iteration = std::max<int64_t>(1, kMinBytesPerIteration / bytes);
  const bool ok = RunOrSkip(state, name, absl::StrCat("bytes:", bytes), ctx, [&] {
    at::Tensor host = pinned ? ctx.EmptyPinned(bytes) : at::empty({bytes}, at::TensorOptions().dtype(at::kByte));
    at::Tensor device = at::empty({bytes}, at::TensorOptions().dtype(at::kByte).device(ctx.device()));
    host.fill_(1);  // touch the pages: a first-touch page fault is not a transfer cost
    at::Tensor& dst = to_device ? device : host;
    const at::Tensor& src = to_device ? host : device;
    dst.copy_(src);  // warm-up: driver staging buffers, pinned-page registration
    ctx.Synchronize();
    std::unique_ptr<IntervalTimer> timer = ctx.NewTimer();
    for (auto _ : state) {
      // Pageable copies block the host until done, so for them the hold only delays.
      ctx.HoldComputeStream(kStreamHoldSeconds);
      timer->Start();
      for (int64_t i = 0; i < copies_per_iteration; ++i) dst.copy_(src, /*non_blocking=*/pinned);
      timer->Stop();
      const double s = timer->ElapsedSeconds();
      state.SetIterationTime(s);
      seconds += s;
      copies += copies_per_iteration;
    }
  });
  if (!ok || seconds <= 0) return;
  const double gb_per_s = static_cast<double>(bytes) * copies / seconds / 1e9;
  state.counters["GB_per_s"] = gb_per_s;
  if (const std::optional<double> link = ctx.HostLinkGBps(gb_per_s)) {
    state.counters["pcie_peak_pct"] = 100.0 * gb_per_s / *link;
  }
  state.SetBytesProcessed(bytes * copies);
}

}  // namespace

void RegisterTransfers(const std::vector<TransferConfig>& configs, const Harness& env) {
  if (!env.cuda) return;
  for (const TransferConfig& c : configs) {
    const std::string name = BenchmarkName(c);
    RegisterGuarded(
        name,
        [name, c, &env](benchmark::State& st) { TransferBenchmark(st, name, c.to_device, c.bytes, c.pinned, env); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace trainbench
