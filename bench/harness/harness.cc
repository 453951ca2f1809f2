#include "bench/harness/harness.h"

#include <cstdio>
#include <new>

#include <c10/util/Exception.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/families/counters.h"
#include "bench/harness/interrupt.h"
#include "bench/harness/perturbation.h"
#include "fixtures/host_memory.h"
#include "models/trainer.h"

namespace trainbench {
namespace {

// LibTorch's CPU allocator reports a failed allocation as a plain c10::Error ("DefaultCPUAllocator:
// can't allocate memory: you tried to allocate N bytes. Error code 12 (Cannot allocate memory)"),
// not as c10::OutOfMemoryError as CUDA's does.
bool IsCpuOutOfMemory(const std::string& message) {
  return absl::StrContains(message, "DefaultCPUAllocator") &&
         (absl::StrContains(message, "can't allocate memory") || absl::StrContains(message, "not enough memory"));
}

void Skip(benchmark::State& state, const std::string& name, const std::string& why) {
  std::fprintf(stderr, "[trainbench] skipped %s: %s\n", name.c_str(), why.c_str());
  state.SkipWithError(why.c_str());
}

// A benchmark that starts after a stop request returns at once, recorded as not run.
bool NotRunAfterStop(benchmark::State& state) {
  if (!StopRequested()) return false;
  state.SkipWithError(NotRunMessage(StopSignal()).c_str());
  return true;
}

// Why need does not fit what ctx (and, for CUDA, the host) can still give, or nullopt.
// processes: how many processes on this host each need as much host memory at once.
std::optional<std::string> Shortfall(const Harness& env, DeviceContext& ctx, const std::string& what, MemoryNeed need,
                                     int processes = 1) {
  if (!env.run.memory_guard) return std::nullopt;
  // What the previous benchmark left in the allocators' caches is available to this one.
  ctx.ReleaseCachedMemory();
  if (ctx.lost_reason()) return *ctx.lost_reason();
  const bool on_cpu = ctx.kind() == DeviceKind::kCpu;
  need.host_bytes *= processes;
  if (on_cpu) need.device_bytes *= processes;  // the "device" is the same host memory
  std::optional<std::string> shortfall;
  std::string where = "host";
  if (on_cpu) {
    shortfall = MemoryShortfall(need.device_bytes + need.host_bytes, ctx.AvailableMemoryBytes());
  } else {
    shortfall = MemoryShortfall(need.device_bytes, ctx.AvailableMemoryBytes());
    where = "GPU";
    if (!shortfall) {
      shortfall = MemoryShortfall(need.host_bytes, HostAvailableMemoryBytes());
      where = "host";
    }
  }
  if (!shortfall) return std::nullopt;
  return absl::StrCat(*shortfall, " (", where, " memory, ", what,
                      processes > 1 ? absl::StrCat(", for ", processes, " ranks on this host") : "",
                      "; --no_memory_guard runs it anyway)");
}

bool FitsOrSkip(benchmark::State& state, const Harness& env, DeviceContext& ctx, const std::string& name,
                const std::string& what, const MemoryNeed& need) {
  const std::optional<std::string> why = Shortfall(env, ctx, what, need);
  if (!why) return true;
  Skip(state, name, *why);
  return false;
}

}  // namespace

std::string BatchAndModel(int64_t batch, ModelKind model) {
  return absl::StrCat("batch:", batch, " model:", ModelName(model));
}

std::optional<std::string> WhyNoContext(const Harness& env, DeviceKind device, Precision precision) {
  const DeviceContext* ctx = env.context(device);
  if (ctx == nullptr) return "device:cuda: no CUDA GPU is available";
  // Lost by an earlier benchmark (a sticky CUDA error): nothing more runs on it.
  if (ctx->lost_reason()) return *ctx->lost_reason();
  if (auto why = UnsupportedPrecision(precision, device)) return *why;
  if (precision == Precision::kBf16 && !ctx->SupportsBf16()) {
    return "precision:bf16 needs compute capability 8.0 or later on CUDA";
  }
  return std::nullopt;
}

DeviceContext* ContextOrSkip(benchmark::State& state, const Harness& env, DeviceKind device, Precision precision) {
  if (NotRunAfterStop(state)) return nullptr;
  if (const std::optional<std::string> why = WhyNoContext(env, device, precision)) {
    state.SkipWithError(why->c_str());
    return nullptr;
  }
  return env.context(device);
}

bool IsOutOfMemoryMessage(const std::string& first_line) {
  // cuDNN 9 splits its allocation failure in two: CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED
  // and CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED.
  for (const char* marker : {"out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED",
                             "_ALLOCATION_FAILED", "cudaErrorMemoryAllocation", "can't allocate memory"}) {
    if (absl::StrContains(first_line, marker)) return true;
  }
  return IsCpuOutOfMemory(first_line);
}

absl::Status RunGuarded(DeviceContext& ctx, const std::string& what_ran, const std::function<void()>& body) {
  if (ctx.lost_reason()) return absl::UnavailableError(*ctx.lost_reason());
  std::string error;
  bool oom = false;
  try {
    ctx.ReleaseCachedMemory();
    // The release is the first call that can find a sticky error left by the last benchmark.
    if (ctx.lost_reason()) return absl::UnavailableError(*ctx.lost_reason());
    body();
    return absl::OkStatus();
  } catch (const Interrupted& e) {
    // Not a failure of the device: nothing to recover.
    return absl::CancelledError(InterruptedMessage(e.signal_number));
  } catch (const c10::OutOfMemoryError& e) {
    error = FirstLine(e.what_without_backtrace());
    oom = true;
  } catch (const std::bad_alloc& e) {
    error = FirstLine(e.what());
    oom = true;
  } catch (const c10::Error& e) {
    // what_without_backtrace: the message alone, without LibTorch's C++ stack.
    error = FirstLine(e.what_without_backtrace());
    oom = IsOutOfMemoryMessage(error);
  } catch (const std::exception& e) {
    error = FirstLine(e.what());
    oom = IsOutOfMemoryMessage(error);
  }
  if (oom) error = absl::StrCat("out of memory at ", what_ran, ": ", error);
  ctx.RecoverAfterFailure(error);
  return oom ? absl::ResourceExhaustedError(error) : absl::InternalError(error);
}

bool RunOrSkip(benchmark::State& state, const std::string& name, const std::string& what_ran, DeviceContext& ctx,
               const std::function<void()>& body) {
  if (NotRunAfterStop(state)) return false;
  const absl::Status s = RunGuarded(ctx, what_ran, body);
  if (s.ok()) return true;
  Skip(state, name, std::string(s.message()));
  return false;
}

std::optional<KernelTrace> TraceKernels(const Harness& env, DeviceContext& ctx, const std::function<void()>& span) {
  if (!env.run.trace_epoch || StopRequested() || !ctx.StartKernelTrace()) return std::nullopt;
  struct StopOnUnwind {
    DeviceContext& ctx;
    bool stopped = false;
    ~StopOnUnwind() {
      if (!stopped) (void)ctx.StopKernelTrace();
    }
  } guard{ctx};
  try {
    span();
  } catch (const Interrupted&) {
    return std::nullopt;  // the guard stops the tracer
  }
  guard.stopped = true;
  return ctx.StopKernelTrace();
}

std::vector<std::string>& RegisteredNames() {
  static auto* const names = new std::vector<std::string>;
  return *names;
}

benchmark::internal::Benchmark* RegisterNamed(const std::string& name, std::function<void(benchmark::State&)> body) {
  RegisteredNames().push_back(name);
  return benchmark::RegisterBenchmark(name.c_str(), [name, body = std::move(body)](benchmark::State& state) {
    const PerturbationMark before = PerturbationNow();
    body(state);
    // A row the process was paused in (set-up, warm-up and diagnostics included: a pause there
    // can leave the timed part cold) is kept, marked, and said so; a skipped row has no numbers.
    if (const Perturbation p = PerturbationBetween(before, PerturbationNow()); p.any() && !state.error_occurred()) {
      for (const auto& [key, value] : PerturbationCounters(p)) state.counters[key] = value;
      std::fprintf(stderr, "trainbench: %s\n", PerturbedLine(name, p).c_str());
    }
    // With --benchmark_repetitions, Google Benchmark (1.7.1, statistics.cc) checks that every
    // repetition ran the same iteration count before it leaves the errored ones out of the
    // aggregates, and aborts the process otherwise; a repetition skipped before its timing
    // loop started reports 0 iterations (an interrupted one, or each "not run" one after a
    // stop). Entering the loop after the skip runs no iteration and reports the count the
    // repetition was given, so the finished repetitions are kept and aggregated.
    if (state.error_occurred() && state.iterations() == 0) {
      for (auto _ : state) {
      }
    }
  });
}

benchmark::internal::Benchmark* RegisterGuarded(const std::string& name, std::function<void(benchmark::State&)> body) {
  return RegisterNamed(name, [name, body = std::move(body)](benchmark::State& state) {
    try {
      body(state);
    } catch (const c10::Error& e) {
      Skip(state, name, absl::StrCat("unexpected error: ", FirstLine(e.what_without_backtrace())));
    } catch (const std::exception& e) {
      Skip(state, name, absl::StrCat("unexpected error: ", FirstLine(e.what())));
    }
  });
}

void ThrowIfInterrupted() {
  if (StopRequested()) throw Interrupted{StopSignal()};
}

bool FitsInMemoryOrSkip(benchmark::State& state, const Harness& env, DeviceContext& ctx, const EpochConfig& c) {
  return FitsOrSkip(state, env, ctx, BenchmarkName(c), BatchAndModel(c.batch, c.model),
                    EpochNeed(c, env.data.train.count));
}

std::optional<std::string> WhyNotInMemory(const Harness& env, DeviceContext& ctx, const EpochConfig& c, int processes) {
  return Shortfall(env, ctx, BatchAndModel(c.batch, c.model), EpochNeed(c, env.data.train.count), processes);
}

bool FitsInMemoryOrSkip(benchmark::State& state, const Harness& env, DeviceContext& ctx, const StepConfig& c) {
  return FitsOrSkip(state, env, ctx, BenchmarkName(c), BatchAndModel(c.batch, c.model),
                    StepNeed(c, env.data.train.count));
}

bool FitsInMemoryOrSkip(benchmark::State& state, const Harness& env, DeviceContext& ctx, const LoaderConfig& c) {
  return FitsOrSkip(state, env, ctx, BenchmarkName(c), absl::StrCat("batch:", c.batch),
                    LoaderNeed(c, env.data.train.count));
}

}  // namespace trainbench
