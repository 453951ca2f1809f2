#include "bench/env.h"

#include <cstdio>

#include <c10/util/Exception.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "models/trainer.h"

namespace trainbench {

std::string BatchAndModel(int64_t batch, ModelKind model) {
  return absl::StrCat("batch:", batch, " model:", ModelName(model));
}

std::string FirstLine(const std::string& message) {
  return message.substr(0, message.find('\n'));
}

DeviceContext* ContextOrSkip(benchmark::State& state, const BenchEnv& env, DeviceKind device,
                             Precision precision) {
  DeviceContext* ctx = env.context(device);
  if (ctx == nullptr) {
    state.SkipWithError("device:cuda: no CUDA GPU is available");
    return nullptr;
  }
  if (auto why = UnsupportedPrecision(precision, device)) {
    state.SkipWithError(why->c_str());
    return nullptr;
  }
  if (precision == Precision::kBf16 && !ctx->SupportsBf16()) {
    state.SkipWithError("precision:bf16 needs compute capability 8.0 or later on CUDA");
    return nullptr;
  }
  return ctx;
}

bool IsOutOfMemoryMessage(const std::string& first_line) {
  for (const char* marker : {"out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED",
                             "cudaErrorMemoryAllocation", "can't allocate memory"}) {
    if (absl::StrContains(first_line, marker)) return true;
  }
  return false;
}

absl::Status RunGuarded(DeviceContext& ctx, const std::string& what_ran,
                        const std::function<void()>& body) {
  if (ctx.lost_reason()) return absl::UnavailableError(*ctx.lost_reason());
  std::string error;
  bool oom = false;
  try {
    ctx.ReleaseCachedMemory();
    body();
    return absl::OkStatus();
  } catch (const c10::OutOfMemoryError& e) {
    error = FirstLine(e.what());
    oom = true;
  } catch (const std::bad_alloc& e) {
    error = FirstLine(e.what());
    oom = true;
  } catch (const std::exception& e) {
    error = FirstLine(e.what());
    oom = IsOutOfMemoryMessage(error);
  }
  if (oom) error = absl::StrCat("out of memory at ", what_ran, ": ", error);
  ctx.RecoverAfterFailure(error);
  return oom ? absl::ResourceExhaustedError(error) : absl::InternalError(error);
}

bool RunOrSkip(benchmark::State& state, const std::string& name, const std::string& what_ran,
               DeviceContext& ctx, const std::function<void()>& body) {
  const absl::Status s = RunGuarded(ctx, what_ran, body);
  if (s.ok()) return true;
  const std::string error(s.message());
  std::fprintf(stderr, "[trainbench] skipped %s: %s\n", name.c_str(), error.c_str());
  state.SkipWithError(error.c_str());
  return false;
}

}  // namespace trainbench
