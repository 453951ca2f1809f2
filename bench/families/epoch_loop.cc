#include "bench/families/epoch_loop.h"

#include <chrono>

#include "bench/harness/harness.h"

namespace trainbench {

EpochResult RunEpoch(Trainer& trainer, DeviceContext& ctx, const ImageSet& train, const LoaderOptions& lo,
                     int64_t epoch, bool stop_between_steps) {
  EpochResult r;
  ctx.Synchronize();
  ctx.ResetStepMarks();
  const auto wall_start = std::chrono::steady_clock::now();
  std::unique_ptr<IntervalTimer> timer = ctx.NewTimer();
  timer->Start();
  // ---- timed section starts
  EpochLoader loader(train, lo, epoch);
  at::Tensor loss_sum = at::zeros({}, at::TensorOptions().device(ctx.device()).dtype(at::kFloat));
  std::optional<DeviceBatch> next;
  if (std::optional<HostBatch> h = loader.Next()) next = ctx.Stage(*h, lo.pinned);
  while (next) {
    if (stop_between_steps) ThrowIfInterrupted();  // SIGINT/SIGTERM stop at a step boundary
    DeviceBatch current = std::move(*next);
    next.reset();
    if (std::optional<HostBatch> h = loader.Next()) next = ctx.Stage(*h, lo.pinned);
    ctx.Use(current);
    ctx.MarkStepBegin();
    loss_sum += trainer.Step(current.images, current.labels);
    ctx.MarkStepEnd();
  }
  timer->Stop();
  // ---- timed section ends
  r.timed_seconds = timer->ElapsedSeconds();
  ctx.Synchronize();
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  r.wait_seconds = loader.wait_seconds();
  r.step_span_seconds = ctx.StepBusySeconds();
  r.steps = loader.num_batches();
  r.mean_loss = loss_sum.item<double>() / static_cast<double>(r.steps);
  return r;
}

}  // namespace trainbench
