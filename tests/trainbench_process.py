"""Running the real binary (build/trainbench) in the fault tests: bounded runs, trainbench's
own stderr lines, and waiting for finished benchmarks in the results file (which is only
ever replaced whole, so every read must parse)."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "build" / "trainbench"
sys.path.insert(0, str(ROOT / "tools"))
import gbench  # noqa: E402  (tools/gbench.py: the loader the tools use)

# Two quick Small epochs, then two slow Large ones (about 1.5 s an epoch on 2 cores): a signal
# sent after the first rows lands while a Large benchmark runs.
SLOW_TAIL = ["--dataset=synthetic", "--samples=256", "--warmup_steps=2", "--epochs=3",
             "--device=cpu", "--batch=64", "--model=Small,Large", "--workers=0,2", "--quiet",
             "--benchmark_filter=BM_TrainEpoch"]
NAMES = [f"BM_TrainEpoch/batch:64/model:{m}/workers:{w}/precision:fp32/pin:0/device:cpu/graph:0"
         for m in ("Small", "Large") for w in (0, 2)]
TIMEOUT_S = 300


def run(args, check_rc=None, preexec_fn=None, timeout=TIMEOUT_S):
    proc = subprocess.run([str(BINARY)] + list(args), capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec_fn)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr[-3000:]
    return proc


SUITE_LINE_PREFIX = "trainbench: suite: "


def trainbench_lines(stderr):
    """trainbench's own lines (not Google Benchmark's header, not [trainbench] progress, not
    the closing "suite: 212 s, 125 s timed (59%)" that every run prints: suite_line)."""
    return [l for l in stderr.splitlines()
            if l.startswith("trainbench:") and not l.startswith(SUITE_LINE_PREFIX)]


def suite_line(stderr):
    """The run's closing suite line, or None."""
    return next((l for l in stderr.splitlines() if l.startswith(SUITE_LINE_PREFIX)), None)


def read_if_there(path):
    """The file's rows, or None before it exists. Every read must parse: the file is only ever
    replaced whole, so a reader never sees a partial document."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None
    doc = json.loads(text)  # raises on a partial file
    return doc["benchmarks"]


def start_and_wait_for_rows(args, out, rows, timeout=120):
    proc = subprocess.Popen([str(BINARY)] + args + [f"--benchmark_out={out}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = read_if_there(out)
        if got is not None and len(got) >= rows:
            return proc
        assert proc.poll() is None, f"exited early: {proc.communicate()[1][-3000:]}"
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no {rows} finished benchmarks in {out} after {timeout} s")


def row_names(doc):
    return [b["name"].rsplit("/iterations:", 1)[0] for b in doc["benchmarks"]]
