// ddp_check: trains a model for a few steps, data-parallel when a launcher says so (torchrun,
// as bench/dist/world.h reads it), and writes the parameters out, for tests/test_data_parallel.py to
// compare: N ranks with batch B each against one process with batch N x B on the same
// samples. It uses the benchmark's own pieces (Trainer, GradientSync over the Gloo group),
// with fixed random batches instead of the loader, so that both runs see the same samples in
// the same steps: step s's batch is N x B samples drawn from seed s on every rank, and rank r
// trains on rows r x B .. (r+1) x B of it.
//
//   ddp_check --out=FILE --batch=B [--steps=20] [--model=Medium] [--float64] [--sync_alone]
// --sync_alone: with no launcher, train through GradientSync anyway, over a world of one (an
// in-process store, as a GPU's ranks:1 rows do): it must change nothing.
// --float64 builds the model, its optimizer state and the batches in double precision: in
// float32 the two runs part by rounding alone (the all-reduce sums in another order than one
// batch's mean), and Adam's early steps, which divide each gradient by its own size, grow
// that into about 1e-2 relative after 20 steps; in float64 the same growth stays far below
// 1e-5, so a wrong average shows. --trace_allreduce=JSON (with a launcher): rank 0 writes
// {"buckets", "allreduces", "overlapped_steps", "steps"} to JSON: the reducer's buckets after
// the rebuild, the all-reduce calls in all steps, and in how many steps the first all-reduce
// was issued before the first layer's weight gradient, the last one backward computes (so
// communication overlapped backward). FILE gets the parameters, in model order and the model's
// dtype, one file per rank: FILE.rank<r> in a
// world of several ranks, FILE itself in a world of one. Exit 0, or 2 with one line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include <ATen/Parallel.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <torch/utils.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/dist/distributed.h"
#include "bench/dist/gradient_sync.h"
#include "bench/dist/process_groups.h"
#include "bench/dist/world.h"
#include "common/axes.h"
#include "fixtures/dataset.h"
#include "fixtures/device.h"
#include "models/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;

// The CPU backend as the reducer sees it, recording when each all-reduce is issued.
class RecordingGloo final : public c10d::Backend {
 public:
  explicit RecordingGloo(c10::intrusive_ptr<c10d::Backend> inner)
      : Backend(inner->getRank(), inner->getSize()), inner_(std::move(inner)) {}
  const std::string getBackendName() const override { return inner_->getBackendName(); }
  c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor>& tensors,
                                           const c10d::AllreduceOptions& opts) override {
    issued.push_back(Clock::now());
    return inner_->allreduce(tensors, opts);
  }
  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor>& tensors,
                                           const c10d::BroadcastOptions& opts) override {
    return inner_->broadcast(tensors, opts);
  }
  std::vector<Clock::time_point> issued;

 private:
  c10::intrusive_ptr<c10d::Backend> inner_;
};

[[noreturn]] void Fail(const std::string& line) {
  std::fprintf(stderr, "ddp_check: %s\n", line.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace trainbench;
  std::string out;
  int64_t batch = 0;
  int64_t steps = 20;
  std::string model_name = "Medium";
  bool float64 = false;
  bool sync_alone = false;
  std::string trace_allreduce;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (absl::StartsWith(a, "--out=")) {
      out = a.substr(6);
    } else if (absl::StartsWith(a, "--batch=")) {
      if (!absl::SimpleAtoi(a.substr(8), &batch) || batch < 1) Fail(a + ": not a positive integer");
    } else if (absl::StartsWith(a, "--steps=")) {
      if (!absl::SimpleAtoi(a.substr(8), &steps) || steps < 0) Fail(a + ": not a non-negative integer");
    } else if (a == "--sync_alone") {
      sync_alone = true;
    } else if (absl::StartsWith(a, "--trace_allreduce=")) {
      trace_allreduce = a.substr(18);
    } else if (a == "--float64") {
      float64 = true;
    } else if (absl::StartsWith(a, "--model=")) {
      model_name = a.substr(8);
    } else {
      Fail(a + ": unexpected argument");
    }
  }
  if (out.empty() || batch == 0) Fail("usage: ddp_check --out=FILE --batch=B [--steps=N] [--model=M]");
  const absl::StatusOr<ModelKind> model = ParseModel(model_name);
  if (!model.ok()) Fail(absl::StrCat("--model=", model_name, ": ", model.status().message()));

  absl::StatusOr<World> world = ParseWorld(LauncherEnvironment());
  if (!world.ok()) Fail(std::string(world.status().message()));
  WorldComm& dist = *new WorldComm;  // leaked, as trainbench's: Gloo's threads outlive main
  dist.world = *world;
  const bool synced = dist.world.distributed() || sync_alone;
  if (synced) {
    absl::Status s = dist.world.distributed() ? Rendezvous(dist) : EnsureRendezvous(dist);
    if (s.ok() && dist.world.distributed()) s = CompleteGroups(dist);
    if (!s.ok()) Fail(std::string(s.message()));
  }
  at::set_num_threads(1);
  std::unique_ptr<DeviceContext> ctx = MakeCpuContext();
  // Parameters, Adam's moments and the batches below are made with the default dtype.
  if (float64) torch::set_default_dtype(caffe2::TypeMeta::Make<double>());
  // Each rank starts from its own random parameters: GradientSync must replace them with
  // rank 0's (seed 0, as the single process's) for the runs to agree.
  Trainer trainer(*model, Precision::kFp32, *ctx, /*seed=*/static_cast<uint64_t>(dist.world.rank));
  std::optional<GradientSync> sync;
  if (synced) {
    sync.emplace(dist, *trainer.model());
    trainer.set_step_hooks(&*sync);
  }
  c10::intrusive_ptr<RecordingGloo> recording;
  std::optional<Clock::time_point> last_gradient;  // this step's first-layer weight gradient
  if (!trace_allreduce.empty()) {
    if (!sync) Fail("--trace_allreduce: needs a world (a launcher or --sync_alone)");
    // Under a backend type of its own, so that the group routes CPU tensors to it.
    recording = c10::make_intrusive<RecordingGloo>(dist.groups->cpu);
    dist.groups->group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::CUSTOM, recording);
    trainer.model()->parameters().front().register_hook([&](const at::Tensor&) { last_gradient = Clock::now(); });
  }
  int64_t overlapped_steps = 0;
  const int64_t world_batch = batch * dist.world.size;
  for (int64_t s = 0; s < steps; ++s) {
    torch::manual_seed(static_cast<uint64_t>(1000 + s));
    const at::Tensor images = at::randn({world_batch, 1, kImageSide, kImageSide});
    const at::Tensor labels = at::randint(0, kNumClasses, {world_batch}, at::kLong);
    const int64_t first = batch * dist.world.rank;
    const size_t issued_before = recording ? recording->issued.size() : 0;
    trainer.Step(images.narrow(0, first, batch), labels.narrow(0, first, batch));
    if (recording && recording->issued.size() > issued_before && last_gradient &&
        recording->issued[issued_before] < *last_gradient) {
      ++overlapped_steps;
    }
  }
  if (recording && dist.world.rank == 0) {
    std::ofstream j(trace_allreduce);
    j << "{\"buckets\": " << sync->buckets() << ", \"allreduces\": " << recording->issued.size()
      << ", \"overlapped_steps\": " << overlapped_steps << ", \"steps\": " << steps << "}\n";
    if (!j) Fail(absl::StrCat(trace_allreduce, ": could not write"));
  }
  const std::string path = dist.world.distributed() ? absl::StrCat(out, ".rank", dist.world.rank) : out;
  std::ofstream f(path, std::ios::binary);
  // Parameters, then buffers (Large's BatchNorm statistics). Each rank's last forward moved
  // its own statistics after they were broadcast, as in DDP: synced once more, as the
  // benchmark does before it evaluates, they are rank 0's.
  if (sync) sync->SyncBuffers();
  std::vector<at::Tensor> state = trainer.model()->parameters();
  for (const at::Tensor& b : trainer.model()->buffers()) {
    if (b.is_floating_point()) state.push_back(b);  // not num_batches_tracked (int64)
  }
  for (const at::Tensor& p : state) {
    const at::Tensor c = p.detach().contiguous();
    f.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.nbytes()));
  }
  f.close();
  if (!f) Fail(absl::StrCat(path, ": could not write the parameters"));
  std::fflush(nullptr);
  std::_Exit(0);  // not through static destructors under a live Gloo group
}
