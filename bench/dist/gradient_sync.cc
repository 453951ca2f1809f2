#include "bench/dist/gradient_sync.h"

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include "bench/dist/process_groups.h"

namespace trainbench {

// ---- GradientSync

// DDP's broadcast_bucket_size for the initial module-state sync: 250 MiB per coalesced broadcast.
constexpr size_t kBroadcastBucketBytes = 250u * 1024 * 1024;

struct GradientSync::Impl {
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::vector<at::Tensor> buffers;
  std::unique_ptr<c10d::Reducer> reducer;
};

GradientSync::GradientSync(const WorldComm& dist, torch::nn::Module& model, int64_t bucket_bytes)
    : impl_(std::make_unique<Impl>()) {
  impl_->group = dist.groups->group;
  std::vector<at::Tensor> params;
  for (const at::Tensor& p : model.parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  impl_->buffers = model.buffers();
  // As DistributedDataParallel's constructor: the same shapes everywhere, then rank 0's values.
  c10d::verify_params_across_processes(impl_->group, params, std::nullopt);
  std::vector<at::Tensor> state = params;
  state.insert(state.end(), impl_->buffers.begin(), impl_->buffers.end());
  {
    torch::NoGradGuard no_grad;  // in-place writes into leaf parameters
    c10d::broadcast_coalesced(impl_->group, state, kBroadcastBucketBytes, /*rank=*/0);
  }
  // Buckets in DDP's way (find_unused_parameters=false): one bucket for the first step, after
  // which rebuild_buckets (BeforeForward) cuts them in the order the gradients became ready,
  // the first 1 MiB and then bucket_bytes each, so that the first bucket to fill in backward
  // is all-reduced while backward goes on.
  // The last argument, the caps for the rebuild, is empty as DDP passes it without
  // bucket_cap_mb_list: the rebuild then cuts by first_bucket_bytes and bucket_bytes. (A list
  // holding the first step's one limit, sys.maxsize, kept the model one bucket for good, all-
  // reduced after backward ended.)
  const std::vector<bool> sparse(params.size(), false);
  auto [indices, limits] = c10d::compute_bucket_assignment_by_size(
      params, {static_cast<size_t>(std::numeric_limits<int64_t>::max())}, sparse);  // Python's sys.maxsize
  std::reverse(indices.begin(), indices.end());
  impl_->reducer = std::make_unique<c10d::Reducer>(
      params, std::move(indices), impl_->group, sparse, bucket_bytes, /*find_unused_parameters=*/false,
      /*gradient_as_bucket_view=*/false, std::unordered_map<size_t, std::string>{}, c10d::kDefaultFirstBucketBytes,
      /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
      /*bucket_bytes_cap_list=*/std::vector<int64_t>{});
}

GradientSync::~GradientSync() = default;

void GradientSync::BeforeForward() {
  // As DDP's forward: after the first synced step the buckets are rebuilt once, in the order
  // the gradients came (every rank at the same step; it broadcasts rank 0's order). Without
  // it the reducer would also keep recording that order on every step.
  if (enabled_) (void)impl_->reducer->rebuild_buckets();
  // Buffers follow rank 0 while gradients are synced; under no_sync DDP stops that too.
  if (enabled_) SyncBuffers();
  impl_->reducer->prepare_for_forward();
}

int64_t GradientSync::buckets() const {
  return static_cast<int64_t>(impl_->reducer->get_grad_buckets(/*return_zero_tensors=*/false).size());
}

void GradientSync::SyncBuffers() {
  if (impl_->buffers.empty()) return;
  torch::NoGradGuard no_grad;
  c10d::broadcast_coalesced(impl_->group, impl_->buffers, kBroadcastBucketBytes, /*rank=*/0);
}

void GradientSync::BeforeBackward(const at::Tensor&) {
  // With find_unused_parameters=false the reducer needs no outputs: every parameter's
  // gradient is expected. Not armed (no_sync), its autograd hooks do nothing.
  if (enabled_) impl_->reducer->prepare_for_backward({});
}

}  // namespace trainbench
