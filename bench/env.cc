#include "bench/env.h"

#include <cstdio>

#include <c10/util/Exception.h>

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

bool RunOrSkip(benchmark::State& state, const std::string& name, const std::string& what_ran,
               DeviceContext& ctx, const std::function<void()>& body) {
  std::string error;
  try {
    body();
    return true;
  } catch (const c10::OutOfMemoryError& e) {
    ctx.ReleaseCachedMemory();
    error = absl::StrCat("out of memory at ", what_ran, ": ", FirstLine(e.what()));
  } catch (const std::exception& e) {
    error = FirstLine(e.what());
  }
  std::fprintf(stderr, "[trainbench] skipped %s: %s\n", name.c_str(), error.c_str());
  state.SkipWithError(error.c_str());
  return false;
}

}  // namespace trainbench
