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
import time
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
    # Each repetition prints "epoch 1/20" after its first timed epoch: the third one's comes
    # once the first two have finished, and 19 epochs before the third can.
    rc, stderr = signal_after_lines(SMALL + ["--epochs=20", "--benchmark_repetitions=4",
                                             f"--benchmark_out={out}"], "epoch 1/20", 3, sig)
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


def test_sighup_stops_the_run_as_sigterm_does(tmp_path):
    out = tmp_path / "run.json"
    rc, stderr = signal_after_lines(SMALL + ["--epochs=20", "--model=Small,Medium",
                                             f"--benchmark_out={out}"], "epoch 1/20", 1, signal.SIGHUP)
    assert rc == 129, stderr[-3000:]
    (line,) = trainbench_lines(stderr)
    assert line.startswith("trainbench: interrupted by SIGHUP: 0 of 2 benchmarks finished (1 interrupted, 1 not run")
    messages = [b.get("error_message") for b in json.loads(out.read_text())["benchmarks"]]
    assert messages == ["interrupted by SIGHUP", "not run: interrupted by SIGHUP"]


# ---- 4. a paused run


def test_a_paused_benchmark_is_kept_marked_perturbed_and_said_so(tmp_path):
    out = tmp_path / "run.json"
    pause_s = 1.5
    proc = subprocess.Popen([str(BINARY)] + SMALL + ["--epochs=20", f"--benchmark_out={out}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "epoch 1/20" in line:  # inside the timed epochs
            proc.send_signal(signal.SIGSTOP)
            time.sleep(pause_s)
            proc.send_signal(signal.SIGCONT)
    assert proc.wait(timeout=TIMEOUT_S) == 0, "".join(lines)[-3000:]
    (b,) = json.loads(out.read_text())["benchmarks"]
    assert not b.get("error_occurred") and b["samples_per_second"] > 0
    assert b["perturbed"] == 1
    # The watchdog's clock: the pause, less up to one 50 ms tick, plus scheduling slack.
    assert pause_s - 0.1 <= b["paused_s"] <= pause_s + 1.0
    (line,) = trainbench_lines("".join(lines))
    assert line.startswith(f"trainbench: {EPOCH_NAME}: perturbed: the process was paused 1 time(s) for ")
    assert line.endswith("s while it ran; its numbers are not comparable (tools/compare.py does not judge it)")
    (bench,) = gbench.collect_benchmarks(gbench.load_run(str(out))).values()
    assert bench.perturbation() == {"pauses": 1, "paused_s": b["paused_s"]}  # what the tools read


# ---- 3. two runs, one results file


def test_a_second_run_on_the_same_file_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "run.json"
    first = subprocess.Popen([str(BINARY)] + SMALL + ["--epochs=100000", "--quiet", f"--benchmark_out={out}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not out.exists():  # the context is written once the lock is held
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()[-2000:]
            time.sleep(0.05)
        before = out.read_text()
        second = run(SMALL + ["--epochs=1", f"--benchmark_out={out}"], timeout=60)
        assert second.returncode == 2, second.stderr[-2000:]
        assert second.stderr.splitlines() == [
            f"trainbench: {out}: in use by another trainbench run (pid {first.pid}); wait for it to end"
            " or choose another --benchmark_out"]
        assert out.read_text() == before
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 130
    gbench.load_run(str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]  # the lock file is gone


# ---- 2 and 8. numeric flags out of range, Google Benchmark's included


@pytest.mark.parametrize("arg, line", [
    ("--benchmark_repetitions=-1", "--benchmark_repetitions=-1: out of range 1..100000"),
    ("--benchmark_repetitions=0", "--benchmark_repetitions=0: out of range 1..100000"),
    ("--benchmark_min_time=-1", "--benchmark_min_time=-1: out of range 0..86400 s"),
    ("--benchmark_min_warmup_time=inf", "--benchmark_min_warmup_time=inf: out of range 0..86400 s"),
    ("--warmup_seconds=inf", "--warmup_seconds=inf: out of range 0..3600 s, or -1"),
    ("--warmup_seconds=1e308", "--warmup_seconds=1e+308: out of range 0..3600 s, or -1"),
    ("--warmup_seconds=nan", "--warmup_seconds=nan: out of range 0..3600 s, or -1"),
    ("--warmup_steps=-1", "--warmup_steps=-1: out of range 0..1000000"),
])
def test_a_numeric_flag_out_of_range_is_one_line_and_the_file_is_untouched(tmp_path, arg, line):
    out = tmp_path / "run.json"
    out.write_text('{"previous": "run"}')
    proc = run(SMALL + [arg, f"--benchmark_out={out}"], timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith(f"trainbench: {line}"), proc.stderr
    assert out.read_text() == '{"previous": "run"}'


def test_help_states_every_numeric_range():
    text = run(["--help"], timeout=60).stdout
    assert "Range: 0..3600 s, or -1 (the default: 0.5 s on cuda, none on cpu)." in text
    assert "--benchmark_repetitions: 1..100000" in text
    assert "--benchmark_min_time: 0..86400 s" in text


# ---- 6 and 9. data files


def test_a_gzip_bomb_is_refused_with_the_memory_of_the_real_data(tmp_path):
    # A valid 60000x28x28 header and data (a 47 MB member), then 4 GiB of zeros in 4 members
    # of 1 GiB each (about 4 MB of gzip each).
    import gzip
    import os
    import struct
    import zlib
    compress = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros_gib = b"".join([compress.compress(bytes(64 << 20)) for _ in range(16)] + [compress.flush()])
    header = struct.pack(">IIII", 0x803, 60000, 28, 28)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(header + bytes(60000 * 28 * 28), compresslevel=1) + zeros_gib * 4)

    def peak_rss_mb(data_dir):
        proc = subprocess.Popen([str(BINARY), f"--data_dir={data_dir}", "--device=cpu"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        return os.waitstatus_to_exitcode(status), stderr, usage.ru_maxrss / 1024

    rc, stderr, bomb_mb = peak_rss_mb(tmp_path)
    assert rc == 2
    assert stderr.splitlines() == [
        f"trainbench: {tmp_path}/train-images-idx3-ubyte.gz: trailing bytes after 47040000 data bytes"]
    # Against the same binary stopping at a missing file: LibTorch alone takes some 460 MB.
    _, _, baseline_mb = peak_rss_mb(tmp_path / "missing")
    assert bomb_mb - baseline_mb < 300, (bomb_mb, baseline_mb)


def test_a_data_file_that_is_a_fifo_is_refused_at_once(tmp_path):
    import os
    os.mkfifo(tmp_path / "train-images-idx3-ubyte.gz")
    proc = run([f"--data_dir={tmp_path}", "--device=cpu"], timeout=30)  # blocked for ever before
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"trainbench: {tmp_path}/train-images-idx3-ubyte.gz: not a regular file"]


# ---- 10. a batch larger than the samples


def test_a_batch_larger_than_the_samples_trains_one_batch_of_all_of_them(tmp_path):
    out = tmp_path / "run.json"
    args = [a for a in SMALL if not a.startswith(("--samples", "--batch"))]
    proc = run(args + ["--samples=64", "--batch=16777216", "--epochs=1", "--quiet",
                       f"--benchmark_out={out}"], timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (row,) = json.loads(out.read_text())["benchmarks"]
    assert not row.get("error_occurred"), row.get("error_message")  # was out of memory (52 GB)
    assert row["samples_per_second"] > 0


# ---- 10. --fail_on_skip: a run without data is not a pass


@pytest.mark.parametrize("extra, status", [([], 0), (["--fail_on_skip"], 4)])
def test_fail_on_skip_turns_a_skipped_benchmark_into_exit_4(tmp_path, extra, status):
    out = tmp_path / "run.json"
    # fp16 is not run on the CPU: that benchmark is skipped with its reason, fp32 runs.
    proc = run(SMALL + ["--precision=fp32,fp16", "--epochs=1", "--quiet", f"--benchmark_out={out}"] + extra,
               timeout=120)
    assert proc.returncode == status, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["benchmarks"]
    assert [bool(r.get("error_occurred")) for r in rows] == [False, True]  # both kept either way
    lines = trainbench_lines(proc.stderr)
    assert lines == ([f"trainbench: 1 of 2 benchmarks skipped (--fail_on_skip); results in {out}"]
                     if status else [])
