"""Issue 16 end to end: what a user's scripts and schedulers do to a run (a signal during
repetitions, a second writer, a paused process, odd data files and flag values) keeps every
finished result and ends with one line and a distinct exit status.

Runs the real binary (build/trainbench) on a few hundred synthetic samples; every subprocess
has a bounded timeout.
"""
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainbench_process import (  # noqa: E402  (tests/trainbench_process.py)
    BINARY, TIMEOUT_S, gbench, run, trainbench_lines)

SMALL = ["--dataset=synthetic", "--samples=256", "--warmup_steps=2", "--device=cpu",
         "--model=Small", "--batch=64", "--workers=0", "--benchmark_filter=BM_TrainEpoch"]
EPOCH_NAME = "BM_TrainEpoch/batch:64/model:Small/workers:0/precision:fp32/pin:0/device:cpu/graph:0"


@pytest.fixture(scope="module", autouse=True)
def need_binary():
    assert BINARY.exists(), f"{BINARY} is missing: build with scripts/setup.sh"


def signal_after_lines(args, marker, count, sig):
    """Runs trainbench with args and sends sig once count stderr lines contain marker; returns
    (exit status, stderr)."""
    proc = subprocess.Popen([str(BINARY)] + args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines, seen = [], 0
    for line in proc.stderr:  # ends when the process closes stderr
        lines.append(line)
        if marker in line:
            seen += 1
            if seen == count:
                proc.send_signal(sig)
    proc.wait(timeout=TIMEOUT_S)
    return proc.returncode, "".join(lines)


# ---- 1. a signal during --benchmark_repetitions


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_repetitions_keeps_the_finished_ones(tmp_path, sig, status):
    out = tmp_path / "run.json"
    # Each repetition prints "epoch 1/2" after its first timed epoch: the third one's comes
    # once the first two have finished.
    rc, stderr = signal_after_lines(SMALL + ["--epochs=2", "--benchmark_repetitions=4",
                                             f"--benchmark_out={out}"], "epoch 1/2", 3, sig)
    assert rc == status, stderr[-3000:]
    assert "Check" not in stderr and "failed" not in stderr
    doc = json.loads(out.read_text())
    reps = [b for b in doc["benchmarks"] if b["run_type"] == "iteration"]
    assert len(reps) == 4
    finished = [b for b in reps if not b.get("error_occurred")]
    stopped = [b for b in reps if b.get("error_occurred")]
    assert len(finished) == 2, [b.get("error_message") for b in reps]
    name = signal.Signals(sig).name
    assert {b["error_message"] for b in stopped} <= {f"interrupted by {name}",
                                                     f"not run: interrupted by {name}"}
    assert all(b["samples_per_second"] > 0 for b in finished)
    aggregates = {b["aggregate_name"]: b for b in doc["benchmarks"] if b["run_type"] == "aggregate"}
    # The aggregates are over the finished repetitions, and say so.
    mean = aggregates["mean"]
    assert mean["iterations"] == 2
    assert mean["real_time"] == pytest.approx(sum(b["real_time"] for b in finished) / 2, rel=1e-9)
    assert mean["samples_per_second"] == pytest.approx(
        sum(b["samples_per_second"] for b in finished) / 2, rel=1e-9)
    assert trainbench_lines(stderr) == [
        f"trainbench: interrupted by {name}: 0 of 1 benchmarks finished (1 interrupted, 0 not run;"
        f" 2 finished repetitions kept); results in {out}"]
    gbench.load_run(str(out))
