"""Issue 9 end to end: whatever ends a run, the results file is complete and valid, and every
failure says what happened in one line with a non-zero exit status.

Runs the real binary (build/trainbench) on a few hundred synthetic samples: SIGKILL, SIGINT and
SIGTERM mid-run (after the first benchmark has finished, seen by polling the JSON file), the
memory guard, output paths that cannot be written, a file-size limit mid-run, and the strict
flags. Every subprocess has a bounded timeout.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainbench_process import (  # noqa: E402  (tests/trainbench_process.py)
    BINARY, NAMES, SLOW_TAIL, TIMEOUT_S, gbench, read_if_there, row_names, run,
    start_and_wait_for_rows, trainbench_lines)


@pytest.fixture(scope="module", autouse=True)
def need_binary():
    assert BINARY.exists(), f"{BINARY} is missing: build with scripts/setup.sh"


# ---- 1. results survive any death


def test_sigkill_mid_run_leaves_a_complete_json_the_tools_load(tmp_path):
    out = tmp_path / "run.json"
    proc = start_and_wait_for_rows(SLOW_TAIL, out, rows=1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    run = gbench.load_run(str(out))  # raises InputError on a truncated file
    assert 1 <= len(run.rows) < len(NAMES)
    assert run.context["train_samples"] == "256"
    first = run.rows[0]
    assert first["name"].startswith(NAMES[0])
    assert first["samples_per_second"] > 0
    assert not first.get("error_occurred")


def test_the_file_is_complete_after_every_benchmark_and_no_temporary_file_stays(tmp_path):
    out = tmp_path / "run.json"
    seen = set()
    args = ["--dataset=synthetic", "--samples=256", "--warmup_steps=2", "--epochs=1",
            "--device=cpu", "--model=Small", "--batch=32,64", "--workers=0,1", "--quiet",
            "--benchmark_filter=BM_TrainEpoch", f"--benchmark_out={out}"]
    proc = subprocess.Popen([str(BINARY)] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    while proc.poll() is None:
        got = read_if_there(out)
        if got is not None:
            seen.add(len(got))
        time.sleep(0.01)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert len(json.loads(out.read_text())["benchmarks"]) == 4
    assert len(seen) >= 2, seen  # intermediate files were complete documents too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


# ---- 2. interrupts


def test_sigpipe_is_ignored_so_a_write_to_a_gone_peer_cannot_kill_the_run(tmp_path):
    # Gloo writes to a rank that has exited with writev: SIGPIPE would kill this rank with no
    # line (exit -13). Ignored, the write fails with EPIPE and the run says why.
    out = tmp_path / "run.json"
    small = [a for a in SLOW_TAIL if not a.startswith("--model=")] + ["--model=Small"]
    proc = start_and_wait_for_rows(small, out, rows=1)
    proc.send_signal(signal.SIGPIPE)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-3000:]
    doc = json.loads(out.read_text())
    assert row_names(doc) == NAMES[:2]
    assert not any(b.get("error_occurred") for b in doc["benchmarks"])


def test_sigint_stops_at_a_step_boundary_and_the_json_is_final(tmp_path):
    out = tmp_path / "run.json"
    proc = start_and_wait_for_rows(SLOW_TAIL, out, rows=2)  # both Small ones finished
    time.sleep(0.3)  # into the first Large benchmark's warm-up or epochs
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-3000:]
    # At the next step boundary: one Large step at batch 64 is well under 2 s here.
    assert time.monotonic() - sent < 20
    doc = json.loads(out.read_text())
    rows = {n: b for n, b in zip(row_names(doc), doc["benchmarks"])}
    assert list(rows) == NAMES  # the ones not run are there too, saying so
    for n in NAMES[:2]:
        assert not rows[n].get("error_occurred")
    assert rows[NAMES[2]]["error_message"] == "interrupted by SIGINT"
    assert rows[NAMES[3]]["error_message"] == "not run: interrupted by SIGINT"
    assert trainbench_lines(stderr) == [
        f"trainbench: interrupted by SIGINT: 2 of 4 benchmarks finished (1 interrupted, 1 not run)"
        f"; results in {out}"]
    gbench.load_run(str(out))


def test_sigterm_interrupts_train_step_and_nothing_after_it_runs(tmp_path):
    # BM_TrainEpoch (quick), then BM_TrainStep asked to run for 120 s, then BM_DataLoader.
    out = tmp_path / "run.json"
    args = ["--dataset=synthetic", "--samples=256", "--warmup_steps=2", "--epochs=1",
            "--device=cpu", "--model=Small", "--batch=64", "--workers=0", "--quiet",
            "--benchmark_min_time=120"]
    proc = start_and_wait_for_rows(args, out, rows=1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr[-3000:]
    doc = json.loads(out.read_text())
    messages = [b.get("error_message") for b in doc["benchmarks"]]
    assert [n.split("/")[0] for n in row_names(doc)] == ["BM_TrainEpoch", "BM_TrainStep", "BM_DataLoader"]
    assert messages == [None, "interrupted by SIGTERM", "not run: interrupted by SIGTERM"]
    assert trainbench_lines(stderr) == [
        f"trainbench: interrupted by SIGTERM: 1 of 3 benchmarks finished (1 interrupted, 1 not run)"
        f"; results in {out}"]


def test_a_second_signal_exits_at_once_and_the_file_is_still_valid(tmp_path):
    out = tmp_path / "run.json"
    proc = start_and_wait_for_rows(SLOW_TAIL, out, rows=2)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "trainbench: second signal: exiting now" in stderr
    run = gbench.load_run(str(out))
    assert [r["name"].rsplit("/iterations:", 1)[0] for r in run.rows] == NAMES[:2]


# ---- 3. memory guard


def test_memory_guard_skips_what_cannot_fit_quickly_and_the_rest_runs(tmp_path):
    # The command: batch 65536 of Large needs well over this machine's memory.
    out = tmp_path / "guard.json"
    start = time.monotonic()
    proc = run(["--device=cpu", "--model=Large", "--batch=65536", "--samples=60000",
                "--dataset=synthetic", "--benchmark_min_time=0.01", f"--benchmark_out={out}"],
               check_rc=0, timeout=180)
    assert time.monotonic() - start < 120
    rows = {b["name"].split("/")[0]: b for b in json.loads(out.read_text())["benchmarks"]}
    assert sorted(rows) == ["BM_DataLoader", "BM_TrainEpoch", "BM_TrainStep"]
    for family in ("BM_TrainEpoch", "BM_TrainStep"):
        message = rows[family]["error_message"]
        assert message.startswith("needs about "), message
        assert " GiB available (host memory, batch:65536 model:Large;" in message
    assert not rows["BM_DataLoader"].get("error_occurred")  # the loader alone fits
    assert rows["BM_DataLoader"]["samples_per_second"] > 0
    assert "[trainbench] skipped BM_TrainStep/batch:65536/model:Large/precision:fp32/device:cpu/graph:0: needs about" in proc.stderr


def limit_address_space(gib):
    def apply():
        limit = gib << 30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def test_no_memory_guard_lets_it_run_and_a_failed_cpu_allocation_is_out_of_memory(tmp_path):
    # An address-space limit makes the allocation fail at once instead of the machine running
    # out of memory; the guard, which does not know that limit, is off anyway.
    out = tmp_path / "oom.json"
    proc = run(["--device=cpu", "--model=Large", "--batch=65536,16", "--samples=4096",
                "--dataset=synthetic", "--warmup_steps=1", "--benchmark_filter=BM_TrainStep",
                "--benchmark_min_time=0.01", "--no_memory_guard", f"--benchmark_out={out}"],
               check_rc=0, preexec_fn=limit_address_space(12), timeout=180)
    rows = {b["name"].split("/")[1]: b for b in json.loads(out.read_text())["benchmarks"]}
    message = rows["batch:65536"]["error_message"]
    assert message.startswith("out of memory at batch:65536 model:Large: "), message
    assert "needs about" not in message
    assert not rows["batch:16"].get("error_occurred")
    assert rows["batch:16"]["step_ms"] > 0


# ---- 4. output failures


@pytest.mark.parametrize("make_path, reason", [
    (lambda d: d / "no" / "such" / "run.json", lambda d: f"directory {d}/no/such does not exist"),
    (lambda d: d, lambda d: "is a directory"),
])
def test_an_output_path_that_cannot_be_written_fails_before_the_data_loads(tmp_path, make_path, reason):
    path = make_path(tmp_path)
    # --data_dir would fail too, but only after the output path is checked.
    proc = run(["--data_dir=/nonexistent", f"--benchmark_out={path}"], check_rc=2)
    assert proc.stderr.splitlines() == [f"trainbench: {path}: {reason(tmp_path)}"]


def test_a_directory_that_is_not_writable_fails_before_the_data_loads():
    # Root writes into a 0555 directory regardless; drop to nobody for this one.
    d = Path(tempfile.mkdtemp(prefix="trainbench-ro-"))
    try:
        d.chmod(0o555)
        demote = None
        if os.geteuid() == 0:
            def demote():
                os.setgid(65534)
                os.setuid(65534)
        proc = run(["--data_dir=/nonexistent", f"--benchmark_out={d}/run.json"], check_rc=2,
                   preexec_fn=demote)
        assert proc.stderr.splitlines() == [
            f"trainbench: {d}/run.json: cannot create a file in {d}: Permission denied"]
        assert list(d.iterdir()) == []
    finally:
        d.chmod(0o755)
        os.rmdir(d)


def test_dev_full_is_one_line_and_exit_2():
    proc = run(["--dataset=synthetic", "--samples=64", "--model=Small", "--batch=64",
                "--benchmark_out=/dev/full"], check_rc=2)
    assert proc.stderr.splitlines() == ["trainbench: /dev/full: write failed: No space left on device"]
    assert proc.stdout == ""


def limit_file_size(size_bytes):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (size_bytes, size_bytes))
    return apply


def test_a_failed_write_mid_run_is_one_line_and_the_previous_complete_file_stays(tmp_path):
    # The same run twice: once to learn the file's size after one and after all benchmarks,
    # then under a file-size limit between the two (as a disk filling up would do).
    args = ["--dataset=synthetic", "--samples=128", "--warmup_steps=1", "--epochs=1",
            "--device=cpu", "--model=Small", "--batch=64", "--workers=0,1,2", "--quiet",
            "--benchmark_filter=BM_TrainEpoch"]
    full = tmp_path / "full.json"
    run(args + [f"--benchmark_out={full}"], check_rc=0)
    text = full.read_text()
    assert len(json.loads(text)["benchmarks"]) == 3
    # Google Benchmark's layout: rows "    {...\n    }" joined by ",\n", then "\n  ]\n}\n".
    closing = len("\n  ]\n}\n")
    first_end = text.index("\n    }") + len("\n    }")
    second_end = text.index("\n    }", first_end) + len("\n    }")
    # Room for the file with one row, not for the one with two (rows are ~700 bytes).
    limit = (first_end + second_end) // 2 + closing
    out = tmp_path / "limited.json"
    proc = run(args + [f"--benchmark_out={out}"], check_rc=2, preexec_fn=limit_file_size(limit))
    assert trainbench_lines(proc.stderr) == [
        f"trainbench: {out}: write failed: File too large (the previous complete file is kept)"]
    kept = gbench.load_run(str(out))
    assert 1 <= len(kept.rows) < 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.json", "limited.json"]


# ---- 6. flags


def test_a_filter_that_matches_nothing_is_one_line_and_leaves_the_file_alone(tmp_path):
    out = tmp_path / "run.json"
    proc = run(["--dataset=synthetic", "--benchmark_filter=NOMATCH", f"--benchmark_out={out}"], check_rc=2)
    assert proc.stderr.splitlines() == [
        "trainbench: --benchmark_filter=NOMATCH: matches no benchmark (--benchmark_list_tests lists them)"]
    assert not out.exists()
    out.write_text("previous results\n")
    run(["--dataset=synthetic", "--benchmark_filter=-BM_", f"--benchmark_out={out}"], check_rc=2)
    assert out.read_text() == "previous results\n"


def test_a_filter_that_does_not_compile_is_one_line_and_exit_2(tmp_path):
    out = tmp_path / "run.json"
    proc = run(["--dataset=synthetic", "--benchmark_filter=[", f"--benchmark_out={out}"], check_rc=2)
    (line,) = proc.stderr.splitlines()
    assert line.startswith("trainbench: --benchmark_filter=[: not a valid regular expression ("), line
    assert not out.exists()


def test_a_negative_filter_is_google_benchmarks_own():
    proc = run(["--dataset=synthetic", "--benchmark_filter=-BM_TrainEpoch|BM_TrainStep",
                "--benchmark_list_tests"], check_rc=0)
    families = {n.split("/")[0] for n in proc.stdout.split()}
    assert families == {"BM_DataLoader"}


@pytest.mark.parametrize("args, line", [
    (["--batch="], "trainbench: --batch=: empty value (leave the flag out for the lab sweep)"),
    (["--model="], "trainbench: --model=: empty value (leave the flag out for the lab sweep)"),
    (["--batch=16,,64"], "trainbench: --batch=16,,64: empty value in the list"),
    (["--workers=0,"], "trainbench: --workers=0,: empty value in the list"),
    (["--cpu_threads=9999"],
     f"trainbench: --cpu_threads=9999: out of range 0..{4 * os.cpu_count()} (4x the {os.cpu_count()} cores)"),
    # Google Benchmark alone would print its help and exit 0.
    (["--benchmark_out_format=xml"], "trainbench: --benchmark_out_format=xml: not json, csv or console"),
    (["--benchmark_format=xml"], "trainbench: --benchmark_format=xml: not json, csv or console"),
    (["--benchmark_context=novalue"],
     "trainbench: --benchmark_context=novalue: not a Google Benchmark flag, or a value it does not accept (see --help)"),
])
def test_bad_flags_are_one_line_and_exit_2(args, line):
    proc = run(["--dataset=synthetic"] + args, check_rc=2)
    assert proc.stderr.splitlines() == [line]


@pytest.mark.parametrize("arg, expected", [
    ("--benchmark_repetitions=abc", 'The value of flag --benchmark_repetitions is expected to be a 32-bit integer, but actually has value "abc".'),
    ("--benchmark_min_time=soon", 'The value of flag --benchmark_min_time is expected to be a double, but actually has value "soon".'),
])
def test_a_bad_google_benchmark_value_is_only_its_own_line(arg, expected):
    proc = run(["--dataset=synthetic", arg])
    assert proc.returncode != 0
    assert proc.stderr.splitlines() == [expected]


def test_help_says_what_an_empty_axis_flag_means():
    proc = run(["--help"], check_rc=0)
    text = " ".join(proc.stdout.split())
    assert "with none given, the lab sweep runs" in text
    assert "each other axis at its value when not given" in text
    assert "--batch=... Batch sizes, e.g. 16,64 (not given: 256)." in text
    assert "(not given: 4 with a GPU, 2 without)" in text
    assert "An empty value (--batch=) is an error." in text
    assert "--memory_guard=true" in proc.stdout
    assert "--no_memory_guard runs it anyway" in text
