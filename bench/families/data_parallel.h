// BM_TrainEpoch in a world of several ranks (bench/dist/world.h): data-parallel training, each rank
// a replica of the model on its own shard of every epoch, gradients averaged by c10d's
// Reducer (bench/dist/distributed.h, GradientSync), as DistributedDataParallel trains.
#pragma once

#include <vector>

#include "bench/dist/distributed.h"
#include "bench/dist/gradient_sync.h"
#include "bench/harness/harness.h"

namespace trainbench {

// BM_TrainEpoch/.../ranks:N for each configuration (DataParallelBenchmarkName): batch is per
// rank, the training set is split over the ranks (a distributed sampler), and every counter
// is the world's, reported by rank 0. Per benchmark:
//  1. every rank checks, on its own, that it can run the configuration (device, precision,
//     memory for the ranks on its host) and runs one forward and backward on a full batch
//     with no collective; the ranks then agree, and if one cannot, all skip the benchmark
//     with its reason ("rank 1: out of memory ...");
//  2. GradientSync broadcasts rank 0's parameters and buffers; warm-up and the timed epochs
//     train with gradient sync; each epoch's time is the slowest rank's; each timed epoch is
//     followed by an untimed twin without gradient sync (DDP's no_sync) on the same shards
//     and batches, from the same weights (restored after it), which gives
//     scaling_efficiency, comm_exposed_pct with its spread over the pairs
//     (comm_exposed_sd_pct), and each rank's own speed (rank_max_s, rank_min_s); a stop
//     signal on any rank stops all of them between epochs;
//  3. test_acc: the replicas are all rank 0's (buffers broadcast once more), so each rank
//     counts its slice of the test set and the counts are added.
// A failure after step 1 (a rank dies, runs out of memory mid-epoch, a collective times out)
// ends every rank with one line (EndWorld): the ranks cannot finish an epoch without it.
// In a world of one (the CUDA smoke check, ranks:1) the rendezvous is made by the first such
// benchmark (EnsureRendezvous), and a failure skips the benchmark as any other's does.
// REQUIRES: env and dist outlive benchmark::RunSpecifiedBenchmarks; in a world of several
// ranks, Rendezvous before the first benchmark runs; no graph:1 configuration.
void RegisterDataParallelEpoch(const std::vector<EpochConfig>& configs, const Harness& env, WorldComm& dist);

}  // namespace trainbench
