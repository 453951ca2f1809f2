"""trainbench in a world of more than one process, on the CPU with c10d's Gloo process
group: two ranks launched by the venv's torchrun on this machine (BM_AllReduce), or one rank
started by hand with the launcher's variables.

What a world of one does is unchanged (names, counters, no BM_AllReduce); a world of two runs
BM_AllReduce and only rank 0 reports; bad launcher variables are one line and exit 2; a rank
that waits for a world that never comes ends within --dist_timeout_s with one line naming the
rank. The data-parallel epoch is test_data_parallel.py's, what ranks started by hand agree on
(the same run, a stop, a dead peer) test_distributed_agreement.py's.

Every subprocess has a timeout, so nothing here can hang CI.
"""
import json
import subprocess
import time

import pytest

from distributed_world import BINARY, TIMEOUT_S, clean_env, free_port, rank_logs, rows, torchrun
from distributed_world import need_binary  # noqa: F401 (autouse: every test here needs the binary)

QUICK = ["--dataset=synthetic", "--samples=64", "--benchmark_min_time=0.01"]
# Three sizes of 4 KiB to 256 MiB: small enough to be quick with two ranks on two cores.
SIZES = (4096, 65536, 1048576)


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
        # Gloo keeps the host's clock around each call (issue 18, finding 4: CUDA's rows say
        # "timing=cuda_events ops_per_span=N"), and each row says which.
        assert b["label"] == "timing=host_per_call", name
    ctx = doc["context"]
    assert ctx["world_size"] == "2"
    assert ctx["dist_backend"] == "gloo"
    assert ctx["all_reduce_timing"] == "host_per_call"
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
    assert proc.stderr.strip().splitlines() == ["trainbench: --dist_timeout_s=0: out of range 1..86400 s"]


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
    # As docs/data-parallel.md says: rank 0 (the store's server) gives up at the timeout, a
    # client's connection (c10d's TCPStore) after about twice it (6.0 s for 3 here), each plus
    # start-up.
    assert seconds < (2 * 3 if rank else 3) + 3, seconds
