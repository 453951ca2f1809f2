"""What the tests of a world of several trainbench processes share: the binary, torchrun,
the launcher's variables cleared from each child's environment, a free port, rank logs.

Every subprocess has a timeout, so nothing here can hang CI.
"""
import os
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# TRAINBENCH_BUILD_DIR: another build of the same tree (a second checkout's, or one built
# beside build/ while build/ is busy); build/ by default.
BUILD_DIR = Path(os.environ.get("TRAINBENCH_BUILD_DIR") or ROOT / "build")
BINARY = BUILD_DIR / "trainbench"
TORCHRUN = ROOT / ".venv" / "bin" / "torchrun"
TIMEOUT_S = 120

# What bench/dist/world.cc reads: cleared from every child's environment, so a test run inside a
# Slurm job or under torchrun still means what it says.
LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                 "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_LOCALID",
                 "TORCHELASTIC_USE_AGENT_STORE")
# The CPU epoch the data-parallel and agreement tests train (Medium, batch 32 per rank, no
# loader workers), named without its ranks and run settings.
EPOCH_NAME = "BM_TrainEpoch/batch:32/model:Medium/workers:0/precision:fp32/pin:0/device:cpu/graph:0"


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
    """Imported by each test file: its tests need the built binary, and skip without torchrun."""
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


def rows(doc):
    return {b["name"]: b for b in doc["benchmarks"]}
