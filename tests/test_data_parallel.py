"""The data-parallel BM_TrainEpoch/.../ranks:2 and its gradient sync, two ranks on the CPU
under the venv's torchrun (c10d's Gloo): the world's counters, only rank 0 reports, replicas
stay identical and train as one process with the world's batch does (tests/ddp_check.cc), a
world of one through the reducer changes no bit, and DDP's gradient buckets.

Every subprocess has a timeout, so nothing here can hang CI.
"""
import json
import subprocess

import pytest

from distributed_world import (BINARY, EPOCH_NAME, ROOT, TIMEOUT_S, TORCHRUN, clean_env, free_port,
                               rank_logs, torchrun)
from distributed_world import need_binary  # noqa: F401 (autouse: every test here needs the binary)

DDP_CHECK = ROOT / "build" / "ddp_check"
# One small data-parallel epoch configuration: 512 samples, 256 per rank, in batches of 32.
EPOCH_ARGS = ["--dataset=synthetic", "--samples=512", "--model=Medium", "--batch=32", "--workers=0",
              "--device=cpu", "--epochs=2", "--benchmark_filter=^BM_TrainEpoch/"]
SCALING_COUNTERS = ("scaling_efficiency", "comm_exposed_pct", "nosync_samples_per_second",
                    "rank_max_s", "rank_min_s", "ddp_buckets")


@pytest.fixture(scope="module")
def epoch_runs(tmp_path_factory):
    """The same epoch configuration on two ranks and in one process."""
    d = tmp_path_factory.mktemp("dp_epoch")
    logs = tmp_path_factory.mktemp("dp_logs")
    proc = torchrun(EPOCH_ARGS + [f"--benchmark_out={d / 'ranks2.json'}"], logs)
    assert proc.returncode == 0, proc.stderr[-3000:] + "".join(
        "\n".join(rank_logs(logs, r)) for r in (0, 1))
    one = subprocess.run([str(BINARY)] + EPOCH_ARGS + [f"--benchmark_out={d / 'one.json'}"],
                         capture_output=True, text=True, timeout=TIMEOUT_S, env=clean_env())
    assert one.returncode == 0, one.stderr[-3000:]
    with open(d / "ranks2.json") as f2, open(d / "one.json") as f1:
        return json.load(f2), json.load(f1), d, logs


def test_the_ranks2_epoch_reports_world_counters(epoch_runs):
    doc, _, _, _ = epoch_runs
    (b,) = doc["benchmarks"]
    assert b["name"] == EPOCH_NAME + "/ranks:2/iterations:2/manual_time"
    assert not b.get("error_occurred"), b.get("error_message")
    # Global samples/s: the whole training set per epoch over the slowest rank's time.
    assert b["samples_per_second"] == pytest.approx(512 / b["real_time"], rel=1e-6)
    assert b["rank_max_s"] >= b["rank_min_s"] > 0
    assert b["nosync_samples_per_second"] > 0
    assert b["ddp_buckets"] == 2  # Medium's 1.7 MB of gradients: the 1 MiB first bucket and the rest
    # Global samples/s over what the same ranks do with no gradient sync.
    assert b["scaling_efficiency"] == pytest.approx(b["samples_per_second"] / b["nosync_samples_per_second"],
                                                    rel=1e-9)
    assert b["comm_exposed_pct"] == pytest.approx(100 * (1 - b["scaling_efficiency"]), abs=1e-9)
    # Two ranks on two cores, each with one thread: sync costs something, but not everything.
    assert 0.2 < b["scaling_efficiency"] < 1.5
    assert 0 <= b["test_acc"] <= 1
    ctx = doc["context"]
    assert (ctx["world_size"], ctx["nodes"], ctx["ranks_per_node"], ctx["gpus_per_node"]) == ("2", "1", "2", "0")
    assert ctx["dist_backend_version"].count(".") == 2


def test_a_world_of_one_keeps_its_names_and_counters(epoch_runs):
    _, doc, _, _ = epoch_runs
    (b,) = doc["benchmarks"]
    assert b["name"] == EPOCH_NAME + "/iterations:2/manual_time"
    for counter in SCALING_COUNTERS:
        assert counter not in b
    assert "world_size" not in doc["context"]


def test_only_rank0_writes_the_epoch(epoch_runs):
    _, _, d, logs = epoch_runs
    assert sorted(p.name for p in d.iterdir()) == ["one.json", "ranks2.json"]
    out1, err1 = rank_logs(logs, 1)
    assert out1 == ""
    assert "epoch 1/2" not in err1  # progress lines are rank 0's
    assert "epoch 1/2" in rank_logs(logs, 0)[1]


def params(path, dtype):
    import numpy as np
    return np.fromfile(path, dtype=dtype)


def test_replicas_stay_identical_and_train_as_one_process_with_twice_the_batch(tmp_path):
    """20 steps of Medium: two ranks with batch 16 each against one process with batch 32 on
    the same samples (ddp_check draws them), and against one process with rank 0's 16 alone,
    which must be far off: the comparison can tell averaged gradients from one rank's."""
    import numpy as np
    assert DDP_CHECK.exists(), f"{DDP_CHECK} is missing: build with scripts/setup.sh"

    def ranks2(out, *extra):
        cmd = [str(TORCHRUN), "--nproc-per-node=2", "--master-addr=127.0.0.1", f"--master-port={free_port()}",
               "--no-python", str(DDP_CHECK), f"--out={out}", "--batch=16"] + list(extra)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=clean_env())
        assert proc.returncode == 0, proc.stderr[-3000:]

    def one(out, batch, *extra):
        proc = subprocess.run([str(DDP_CHECK), f"--out={out}", f"--batch={batch}"] + list(extra),
                              capture_output=True, text=True, timeout=TIMEOUT_S, env=clean_env())
        assert proc.returncode == 0, proc.stderr

    def rel(a, b):
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    # float32, as the benchmark trains: both replicas hold the very same parameters, though
    # each rank built its model from its own seed (rank 0's are broadcast).
    ranks2(tmp_path / "f32")
    r0, r1 = params(f"{tmp_path}/f32.rank0", np.float32), params(f"{tmp_path}/f32.rank1", np.float32)
    assert r0.size == 421642  # Medium's parameters (no buffers)
    assert np.array_equal(r0, r1)
    # Large has BatchNorm: its running statistics follow rank 0's too.
    ranks2(tmp_path / "large", "--model=Large", "--steps=2")
    l0 = params(f"{tmp_path}/large.rank0", np.float32)
    assert np.array_equal(l0, params(f"{tmp_path}/large.rank1", np.float32))
    # float64: the same run within 1e-5 of one process with the world's batch (see
    # tests/ddp_check.cc for why float32 rounding alone parts them by about 1e-2 in 20 Adam steps).
    ranks2(tmp_path / "f64", "--float64")
    one(tmp_path / "one64", 32, "--float64")
    one(tmp_path / "half64", 16, "--float64")
    one(tmp_path / "init64", 16, "--float64", "--steps=0")
    d0 = params(f"{tmp_path}/f64.rank0", np.float64)
    assert np.array_equal(d0, params(f"{tmp_path}/f64.rank1", np.float64))
    single = params(tmp_path / "one64", np.float64)
    assert rel(d0, single) < 1e-5
    assert rel(params(tmp_path / "half64", np.float64), single) > 1e-2
    assert rel(single, params(tmp_path / "init64", np.float64)) > 1e-2  # the 20 steps moved them


def test_a_world_of_one_through_the_reducer_trains_exactly_as_without_it(tmp_path):
    """What a GPU's ranks:1 rows do (a group of one over an in-process store), here on the
    CPU with Gloo: the reducer's average over one rank changes no bit."""
    import numpy as np
    for name, extra in (("plain", []), ("synced", ["--sync_alone"])):
        proc = subprocess.run([str(DDP_CHECK), f"--out={tmp_path / name}", "--batch=16", "--steps=5"] + extra,
                              capture_output=True, text=True, timeout=TIMEOUT_S, env=clean_env())
        assert proc.returncode == 0, proc.stderr
    plain, synced = params(tmp_path / "plain", np.float32), params(tmp_path / "synced", np.float32)
    assert plain.size == 421642
    assert np.array_equal(plain, synced)


def test_gradient_buckets_are_rebuilt_and_the_first_all_reduce_overlaps_backward(tmp_path):
    """Large at 2 ranks, as DDP runs it: one bucket for the first step, then rebuilt (1 MiB
    first, then 25 MiB) into at least 2, each all-reduced as soon as its gradients are ready,
    so that every later step issues its first all-reduce before backward computes the first
    layer's gradient. PyTorch's DDP on the same model made 1, 5 and 9 all-reduce calls in 1, 3
    and 5 steps here; a reducer that never split its bucket made 1, 3 and 5."""
    assert DDP_CHECK.exists(), f"{DDP_CHECK} is missing: build with scripts/setup.sh"
    trace = tmp_path / "trace.json"
    cmd = [str(TORCHRUN), "--nproc-per-node=2", "--master-addr=127.0.0.1", f"--master-port={free_port()}",
           "--no-python", str(DDP_CHECK), f"--out={tmp_path / 'p'}", "--batch=16", "--model=Large",
           "--steps=3", f"--trace_allreduce={trace}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    t = json.loads(trace.read_text())
    assert t["buckets"] >= 2
    assert t["allreduces"] == 1 + 2 * t["buckets"]  # one bucket in step 1, then the rebuilt ones
    assert t["overlapped_steps"] == 2
