"""trainbench in a world of more than one process, on the CPU with c10d's Gloo process
group: two ranks launched by the venv's torchrun on this machine, or started by hand with the
launcher's variables where a test must reach one rank alone (kill it, signal it, give it other
flags).

What a world of one does is unchanged (names, counters, no BM_AllReduce); a world of two runs
BM_AllReduce and the data-parallel BM_TrainEpoch/.../ranks:2 and only rank 0 reports; data-
parallel replicas stay identical and train as one process with the world's batch does; bad
launcher variables are one line and exit 2; a rank that waits for a world that never comes, or
whose peer died, ends within --dist_timeout_s with one line naming the rank.

Every subprocess has a timeout, so nothing here can hang CI.
"""
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "build" / "trainbench"
TORCHRUN = ROOT / ".venv" / "bin" / "torchrun"
TIMEOUT_S = 120

# What bench/dist/world.cc reads: cleared from every child's environment, so a test run inside a
# Slurm job or under torchrun still means what it says.
LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                 "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_LOCALID",
                 "TORCHELASTIC_USE_AGENT_STORE")
QUICK = ["--dataset=synthetic", "--samples=64", "--benchmark_min_time=0.01"]
# Three sizes of 4 KiB to 256 MiB: small enough to be quick with two ranks on two cores.
SIZES = (4096, 65536, 1048576)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS}
    env.update(extra)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def need_binary():
    assert BINARY.exists(), f"{BINARY} is missing: build with scripts/setup.sh"
    if not TORCHRUN.exists():
        pytest.skip(f"{TORCHRUN} is missing (the PyTorch wheel in .venv brings it)")


def torchrun(args, log_dir, nproc=2):
    cmd = [str(TORCHRUN), f"--nproc-per-node={nproc}", "--master-addr=127.0.0.1",
           f"--master-port={free_port()}", f"--log-dir={log_dir}", "--redirects=3",
           "--no-python", str(BINARY)] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S,
                          env=clean_env(), cwd=ROOT)


def rank_logs(log_dir, rank):
    """torchrun --redirects=3 --log-dir: <dir>/<run id>/attempt_0/<rank>/{stdout,stderr}.log"""
    (rank_dir,) = Path(log_dir).glob(f"*/attempt_0/{rank}")
    return (rank_dir / "stdout.log").read_text(), (rank_dir / "stderr.log").read_text()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("allreduce")
    out = out_dir / "out.json"
    sizes = "|".join(str(b) for b in SIZES)
    logs = tmp_path_factory.mktemp("logs")
    start = time.monotonic()
    proc = torchrun(QUICK + [f"--benchmark_filter=^BM_AllReduce/bytes:({sizes})/",
                             f"--benchmark_out={out}", "--benchmark_out_format=json"], logs)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-3000:] + "".join(
        "\n".join(rank_logs(logs, r)) for r in (0, 1))
    with open(out) as f:
        doc = json.load(f)
    return doc, out_dir, logs, seconds


def rows(doc):
    return {b["name"]: b for b in doc["benchmarks"]}


def test_rank0_json_holds_the_ranks2_rows_with_nccl_tests_bandwidths(two_ranks):
    doc, _, _, _ = two_ranks
    got = rows(doc)
    assert sorted(got) == sorted(f"BM_AllReduce/bytes:{b}/ranks:2/manual_time" for b in SIZES)
    for name, b in got.items():
        assert b["time_unit"] == "us"
        assert b["algbw_GB_per_s"] > 0, name
        # nccl-tests: busbw = algbw x 2(R-1)/R, which is 1 for two ranks.
        assert b["busbw_GB_per_s"] == pytest.approx(b["algbw_GB_per_s"] * 1.0, rel=1e-12)
        # algbw is the bytes over the manual time of one all-reduce (real_time, in us).
        nbytes = int(name.split("/")[1].split(":")[1])
        assert b["algbw_GB_per_s"] == pytest.approx(nbytes / (b["real_time"] * 1e-6) / 1e9, rel=1e-6)
    ctx = doc["context"]
    assert ctx["world_size"] == "2"
    assert ctx["dist_backend"] == "gloo"
    assert ctx["launcher"] == "torchrun"


def test_all_reduce_sums_correctly_at_every_size(two_ranks):
    # Each benchmark checks, before timing, that rank r's r+1 sums to R(R+1)/2 = 3 in every
    # element, and skips itself with the values when not.
    doc, _, _, _ = two_ranks
    assert len(doc["benchmarks"]) == len(SIZES)
    for b in doc["benchmarks"]:
        assert not b.get("error_occurred"), (b["name"], b.get("error_message"))
        assert b["iterations"] >= 1


def test_only_rank0_reports(two_ranks):
    _, out_dir, logs, _ = two_ranks
    # Rank 1 made no file, not even a temporary one beside rank 0's.
    assert sorted(p.name for p in out_dir.iterdir()) == ["out.json"]
    out0, err0 = rank_logs(logs, 0)
    out1, err1 = rank_logs(logs, 1)
    assert "BM_AllReduce/bytes:4096/ranks:2" in out0
    assert out1 == ""
    assert "ranks:2" not in err1


def test_the_two_rank_run_is_quick(two_ranks):
    _, _, _, seconds = two_ranks
    assert seconds < 60, seconds


def list_tests(env):
    proc = subprocess.run([str(BINARY), "--benchmark_list_tests"] + QUICK, capture_output=True,
                          text=True, timeout=TIMEOUT_S, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split(), proc.stderr


def test_no_launcher_is_the_world_of_one_as_before():
    names, err = list_tests(clean_env())
    assert not any(n.startswith("BM_AllReduce") for n in names)
    assert any(n.startswith("BM_TrainEpoch/") and "ranks:" not in n for n in names)
    assert "data-parallel" not in err
    # A launcher's world of one is the same run, name for name.
    one, _ = list_tests(clean_env(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0"))
    assert one == names
    slurm_one, _ = list_tests(clean_env(SLURM_PROCID="0", SLURM_STEP_NUM_TASKS="1", SLURM_LOCALID="0"))
    assert slurm_one == names
    # An salloc shell or sbatch script (SLURM_NTASKS without an srun step) is no launcher.
    salloc, _ = list_tests(clean_env(SLURM_PROCID="0", SLURM_NTASKS="4"))
    assert salloc == names


@pytest.mark.parametrize("env, message", [
    (dict(RANK="abc", WORLD_SIZE="2"), "trainbench: RANK=abc: not an integer"),
    (dict(RANK="3", WORLD_SIZE="2", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT="1"),
     "trainbench: RANK=3: not below WORLD_SIZE=2"),
    (dict(RANK="0", WORLD_SIZE="2", LOCAL_RANK="0", MASTER_PORT="29500"),
     "trainbench: MASTER_ADDR: not set (needed with WORLD_SIZE=2)"),
    (dict(SLURM_PROCID="0", SLURM_STEP_NUM_TASKS="x"), "trainbench: SLURM_STEP_NUM_TASKS=x: not an integer"),
])
def test_bad_launcher_variable_is_one_line_and_exit_2(env, message):
    proc = subprocess.run([str(BINARY)] + QUICK, capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=clean_env(**env))
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert lines == [message]


@pytest.mark.parametrize("flag, message", [
    ("--benchmark_enable_random_interleaving=true",
     "trainbench: --benchmark_enable_random_interleaving: each rank would run its own order "
     "(WORLD_SIZE>1)"),
    # --device=cuda without a GPU is no longer refused here but at the rendezvous, where every
    # rank stops with it: test_ranks_that_cannot_train_on_cuda_agree_to_stop_with_one_line.
])
def test_flags_a_world_cannot_run_are_refused_before_the_rendezvous(flag, message):
    # MASTER_PORT 1 has no store behind it: reaching the rendezvous would time out instead.
    env = clean_env(RANK="0", WORLD_SIZE="2", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT="1")
    proc = subprocess.run([str(BINARY), flag] + QUICK, capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=env)
    assert proc.returncode == 2, proc.stderr
    assert [l for l in proc.stderr.splitlines() if l.strip()] == [message]


def test_random_interleaving_from_the_environment_is_refused_too():
    # Google Benchmark reads BENCHMARK_<FLAG> as the flag's default: the same shuffle per rank.
    env = clean_env(RANK="0", WORLD_SIZE="2", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT="1",
                    BENCHMARK_ENABLE_RANDOM_INTERLEAVING="true")
    proc = subprocess.run([str(BINARY)] + QUICK, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    assert proc.returncode == 2, proc.stderr
    assert [l for l in proc.stderr.splitlines() if l.strip()] == [
        "trainbench: --benchmark_enable_random_interleaving: each rank would run its own order (WORLD_SIZE>1)"]


def test_bad_dist_timeout_is_one_line_and_exit_2():
    proc = subprocess.run([str(BINARY), "--dist_timeout_s=0"] + QUICK, capture_output=True,
                          text=True, timeout=TIMEOUT_S, env=clean_env())
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["trainbench: --dist_timeout_s=0: must be >= 1"]


@pytest.mark.parametrize("rank", [0, 1])
def test_a_world_that_never_arrives_ends_at_the_timeout(rank):
    # Alone: rank 0 serves the store and waits for rank 1, which never comes; rank 1 tries to
    # reach a store nobody serves. Either way, one line (c10d's retry logs are kept quiet).
    env = clean_env(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                    MASTER_PORT=str(free_port()))
    start = time.monotonic()
    proc = subprocess.run([str(BINARY), "--dist_timeout_s=3"] + QUICK, capture_output=True,
                          text=True, timeout=TIMEOUT_S, env=env)
    seconds = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("trainbench: rendezvous at 127.0.0.1:"), lines[0]
    assert f"rank {rank} of 2" in lines[0]
    assert seconds < 30, seconds


# ---- the data-parallel epoch

DDP_CHECK = ROOT / "build" / "ddp_check"
# One small data-parallel epoch configuration: 512 samples, 256 per rank, in batches of 32.
EPOCH_ARGS = ["--dataset=synthetic", "--samples=512", "--model=Medium", "--batch=32", "--workers=0",
              "--device=cpu", "--epochs=2", "--benchmark_filter=^BM_TrainEpoch/"]
EPOCH_NAME = "BM_TrainEpoch/batch:32/model:Medium/workers:0/precision:fp32/pin:0/device:cpu/graph:0"
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


def test_ranks_agree_to_skip_what_one_cannot_run_and_go_on(tmp_path):
    """The memory guard counts both ranks on this host: a batch that cannot fit is skipped by
    both, with the first such rank's reason in rank 0's file, and the run goes on."""
    out = tmp_path / "out.json"
    logs = tmp_path / "logs"
    proc = torchrun(["--dataset=synthetic", "--samples=300000", "--model=Large", "--batch=300000",
                     "--workers=0", "--device=cpu", "--epochs=1",
                     "--benchmark_filter=^(BM_TrainEpoch|BM_AllReduce/bytes:4096/)",
                     f"--benchmark_out={out}"], logs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out) as f:
        got = rows(json.load(f))
    epoch = got["BM_TrainEpoch/batch:300000/model:Large/workers:0/precision:fp32/pin:0/device:cpu/graph:0"
                "/ranks:2/iterations:1/manual_time"]
    assert epoch["error_occurred"]
    assert epoch["error_message"].startswith("rank 0: needs about "), epoch["error_message"]
    assert "for 2 ranks on this host" in epoch["error_message"]
    assert not got["BM_AllReduce/bytes:4096/ranks:2/manual_time"].get("error_occurred")


# ---- faults: each rank started by hand, so that one can be reached alone

LONG_ARGS = ["--dataset=synthetic", "--samples=4096", "--model=Medium", "--batch=32", "--workers=0",
             "--device=cpu", "--epochs=60", "--benchmark_filter=^BM_TrainEpoch/", "--dist_timeout_s=30"]


class Rank:
    def __init__(self, rank, port, args, tmp_path, world=2):
        self.err_path = tmp_path / f"rank{rank}.err"
        self.err = open(self.err_path, "w")
        env = clean_env(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                        MASTER_PORT=str(port))
        self.proc = subprocess.Popen([str(BINARY)] + args, stdout=subprocess.DEVNULL, stderr=self.err,
                                     env=env, cwd=ROOT)

    def stderr(self):
        return self.err_path.read_text()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.err.close()


def start_world(tmp_path, args0, args1=None):
    port = free_port()
    return Rank(0, port, args0, tmp_path), Rank(1, port, args1 if args1 is not None else args0, tmp_path)


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def last_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else ""


def test_a_killed_rank_ends_the_other_with_one_line_naming_it(tmp_path):
    r0, r1 = start_world(tmp_path, LONG_ARGS)
    try:
        assert wait_for(lambda: "epoch 1/60" in r0.stderr(), 90), r0.stderr()[-2000:]
        r1.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        status = r0.wait(timeout=60)
        seconds = time.monotonic() - killed
    finally:
        r1.wait(timeout=10)
        r0.wait(timeout=10)
    assert status == 1, r0.stderr()[-2000:]
    assert seconds < 30, seconds  # within --dist_timeout_s=30
    line = last_line(r0.stderr())
    assert line.startswith(f"trainbench: rank 0 of 2: {EPOCH_NAME}"), line
    assert "rank 1 stopped answering (killed, crashed or hung)" in line, line


@pytest.mark.parametrize("world, killed", [(2, 0), (3, 1)])
def test_every_survivor_names_the_killed_rank(tmp_path, world, killed):
    """Rank 0 serves the store: killed, it takes the store with it, and the survivor says so.
    In a world of three, both survivors name rank 1, though each first sees the other's
    collective fail too."""
    port = free_port()
    args = [a.replace("--samples=4096", f"--samples={2048 * world}") for a in LONG_ARGS]
    ranks = [Rank(r, port, args, tmp_path, world) for r in range(world)]
    try:
        assert wait_for(lambda: "epoch 1/60" in ranks[0].stderr(), 120), ranks[0].stderr()[-2000:]
        ranks[killed].proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        survivors = [r for i, r in enumerate(ranks) if i != killed]
        statuses = [r.wait(timeout=60) for r in survivors]
        seconds = time.monotonic() - killed_at
    finally:
        for r in ranks:
            r.wait(timeout=10)
    assert statuses == [1] * len(survivors), [r.stderr()[-1500:] for r in survivors]
    assert seconds < 30, seconds
    why = ("rank 0 stopped answering (it serves the store: killed, crashed or hung)" if killed == 0
           else f"rank {killed} stopped answering (killed, crashed or hung)")
    for index, r in ((i, r) for i, r in enumerate(ranks) if i != killed):
        line = last_line(r.stderr())
        assert line.startswith(f"trainbench: rank {index} of {world}: BM_TrainEpoch/"), line
        assert why in line, line


def test_a_signal_on_one_rank_stops_both_at_the_same_boundary(tmp_path):
    out = tmp_path / "out.json"
    r0, r1 = start_world(tmp_path, LONG_ARGS + [f"--benchmark_out={out}"])
    try:
        assert wait_for(lambda: "epoch 1/60" in r0.stderr(), 90), r0.stderr()[-2000:]
        r0.proc.send_signal(signal.SIGTERM)  # rank 0 alone: rank 1 learns it between epochs
        s0 = r0.wait(timeout=60)
        s1 = r1.wait(timeout=60)
    finally:
        r0.wait(timeout=10)
        r1.wait(timeout=10)
    assert (s0, s1) == (143, 143), (r0.stderr()[-2000:], r1.stderr()[-2000:])
    with open(out) as f:
        (b,) = json.load(f)["benchmarks"]
    assert b["error_message"] == "interrupted by SIGTERM"
    assert "trainbench: interrupted by SIGTERM: 0 of 1 benchmarks finished (1 interrupted" in r0.stderr()


# A world of two that runs one small all-reduce, for what its ranks agree on at the rendezvous.
ONE_ALL_REDUCE = ["--dataset=synthetic", "--samples=64", "--benchmark_filter=^BM_AllReduce/bytes:4096/"]


def world_of_two(tmp_path, args0, args1):
    """Runs ranks 0 and 1 with these flags to their end (60 s each at most): their exit
    statuses and the non-blank lines of their stderr."""
    r0, r1 = start_world(tmp_path, args0, args1)
    statuses = (r0.wait(timeout=60), r1.wait(timeout=60))
    return statuses, [[l for l in r.stderr().splitlines() if l.strip()] for r in (r0, r1)]


def test_ranks_with_other_flags_stop_at_the_rendezvous_with_one_line(tmp_path):
    quick = ONE_ALL_REDUCE + ["--dist_timeout_s=30"]
    statuses, lines = world_of_two(tmp_path, quick + ["--epochs=2"], quick + ["--epochs=3"])
    assert statuses == (2, 2), lines
    expected = ("trainbench: rank 1 of 2 would run something else than rank 0 (ranks need the same flags "
                "and benchmarks): it has 'flag --epochs=3', which rank 0 has not")
    assert lines == [[expected], [expected]]


def test_a_rank_on_another_device_stops_every_rank_at_the_rendezvous_before_nccl(tmp_path):
    # Issue 18, finding 3: the CUDA rank used to decide alone (and, with a GPU, start NCCL's
    # init, which has no timeout) while the other waited at the rendezvous until its timeout.
    quick = ONE_ALL_REDUCE + ["--dist_timeout_s=60"]
    started = time.monotonic()
    statuses, lines = world_of_two(tmp_path, quick + ["--device=cpu"], quick + ["--device=cuda"])
    assert statuses == (2, 2), lines
    assert time.monotonic() - started < 30  # at the rendezvous, not at the timeout
    expected = ("trainbench: rank 1 of 2 would run something else than rank 0 (ranks need the same flags "
                "and benchmarks): it has 'flag --device=cuda', which rank 0 has not")
    assert lines == [[expected], [expected]]


def test_ranks_that_cannot_train_on_cuda_agree_to_stop_with_one_line(tmp_path):
    # The same flags, and no rank here has a GPU: every rank learns it at the rendezvous.
    quick = ONE_ALL_REDUCE + ["--dist_timeout_s=60", "--device=cuda"]
    statuses, lines = world_of_two(tmp_path, quick, quick)
    assert statuses == (2, 2), lines
    expected = "trainbench: rank 0: --device=cuda: no CUDA GPU is available on this machine (WORLD_SIZE>1)"
    assert lines == [[expected], [expected]]


def test_the_same_flags_in_another_order_agree(tmp_path):
    quick = ONE_ALL_REDUCE + ["--dist_timeout_s=30"]
    statuses, lines = world_of_two(tmp_path, quick + ["--epochs=2", "--seed=1"],
                                   ["--seed=1", "--epochs=2"] + quick)
    assert statuses == (0, 0), [rank_lines[-20:] for rank_lines in lines]


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
