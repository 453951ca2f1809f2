"""history.py ingest and export against the real SQLite and real trainbench JSON: idempotent
ingest, a damaged file among good ones, statuses (a failure is never a 0), samples of a run
with repetitions (one the test makes with build/trainbench), older files read as the tools
read them; and bad input to every subcommand: one line naming it, exit 2, no traceback."""

import csv
import json
import os
import sqlite3
import subprocess

import pytest

import history
import history_db
from conftest import ROOT, input_path, row, run_script, write_doc

BINARY = os.path.join(ROOT, "build", "trainbench")
RESULTS = os.path.join(ROOT, "results")
GOOD = [input_path(n) for n in ("trainbench_real_cpu.json", "trainbench_gpu.json",
                                "trainbench_declared_cpu.json", "gbench_errored.json")]


def counts(db):
    con = sqlite3.connect(db)
    found = {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
             for t in ("runs", "results", "samples", "benchmarks", "axes")}
    con.close()
    return found


def test_ingest_is_idempotent(tmp_path, capsys):
    db = str(tmp_path / "h.sqlite")
    assert history.main(["ingest", db, RESULTS, *GOOD]) == 0
    first = counts(db)
    json_files = [f for f in os.listdir(RESULTS) if f.endswith(".json")]
    assert first["runs"] == len(json_files) + len(GOOD)
    assert history.main(["ingest", db, RESULTS, *GOOD]) == 0
    assert counts(db) == first
    assert capsys.readouterr().out.splitlines()[-1].endswith(
        f"0 runs ingested, {first['runs']} already there, 0 skipped")


def test_a_damaged_file_among_good_ones(tmp_path, capsys):
    db = str(tmp_path / "h.sqlite")
    damaged = tmp_path / "damaged.json"
    damaged.write_text(open(GOOD[0]).read()[:5000])
    args = ["ingest", db, GOOD[0], str(damaged), input_path("not_gbench.json"), GOOD[1]]
    assert history.main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"history: {damaged}: malformed or truncated JSON: " + err[0].split(": ", 3)[3],
                   f"history: {input_path('not_gbench.json')}: not Google Benchmark output: "
                   'no "benchmarks" list (skipped)']
    assert err[0].endswith("(skipped)") and counts(db)["runs"] == 2


def test_nothing_readable_is_exit_2_and_no_database(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    assert history.main(["ingest", str(db), input_path("truncated.json")]) == 2
    assert not db.exists()
    assert capsys.readouterr().err.splitlines()[-1] == \
        f"history: {db}: no run could be read (1 bad inputs)"


def results_of(db, where, *args):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT results.name, metric, value, status, message, direction, "
                       f"sample_count FROM results JOIN runs USING (run_id) WHERE {where}",
                       args).fetchall()
    con.close()
    return rows


def test_statuses_are_never_a_zero(tmp_path):
    db = str(tmp_path / "h.sqlite")
    name = "BM_TrainEpoch/batch:64/model:Small/device:cuda/manual_time"
    doc = write_doc(tmp_path / "s.json", [
        row(name + "/a", 0, error_occurred=True, error_message="out of memory at epoch 1: x"),
        row(name + "/b", 0, error_occurred=True,
            error_message="not run: interrupted by SIGTERM before it started"),
        row(name + "/c", 0, error_occurred=True,
            error_message="device:cuda: no CUDA GPU is available"),
        row(name + "/d", 1e6, train_loss=float("nan"))])
    assert history.main(["ingest", db, doc]) == 0
    found = {r[0].split("/")[-1]: r for r in results_of(db, "1")}
    assert [found[k][1:5] for k in "abc"] == [
        ("time", None, "errored", "out of memory at epoch 1: x"),
        ("time", None, "not run", "not run: interrupted by SIGTERM before it started"),
        ("time", None, "skipped", "device:cuda: no CUDA GPU is available")]
    loss = [r for r in results_of(db, "metric = 'train_loss'")]
    assert loss == [(loss[0][0], "train_loss", None, "errored",
                     "train_loss is not a finite number in the run", "lower", 0)]


def test_older_files_read_as_the_tools_read_them(tmp_path):
    db = str(tmp_path / "h.sqlite")
    assert history.main(["ingest", db, input_path("trainbench_gpu.json")]) == 0
    metrics = {r[1] for r in results_of(db, "1")}
    assert "step_span_pct" in metrics and "gpu_busy_pct" not in metrics   # renamed in 0.2
    names = {r[0] for r in results_of(db, "metric = 'time'")}
    epoch = ("BM_TrainEpoch/batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cuda/"
             "graph:0/ranks:1/manual_time")
    assert epoch in names                                   # graph and ranks filled in
    axes = dict(sqlite3.connect(db).execute(
        "SELECT axis, value FROM axes WHERE name = ?", (epoch,)).fetchall())
    assert axes == {"batch": "64", "model": "Medium", "workers": "0", "precision": "fp32",
                    "pin": "0", "device": "cuda", "graph": "0", "ranks": "1"}


@pytest.fixture(scope="module")
def repetitions_run(tmp_path_factory):
    """A real run of the binary with 3 repetitions on 256 synthetic samples (a few seconds)."""
    if not os.access(BINARY, os.X_OK):
        pytest.skip(f"{BINARY} is not built (scripts/setup.sh builds it)")
    out = tmp_path_factory.mktemp("run") / "run.json"
    proc = subprocess.run([BINARY, "--dataset=synthetic", "--samples=256", "--epochs=1",
                           "--warmup_steps=1", "--quiet", "--model=Small", "--batch=64",
                           "--device=cpu", "--benchmark_filter=BM_TrainEpoch",
                           "--benchmark_repetitions=3", f"--benchmark_out={out}",
                           "--benchmark_out_format=json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return str(out)


def test_a_real_run_with_repetitions_keeps_its_samples(tmp_path, repetitions_run):
    db = str(tmp_path / "h.sqlite")
    assert history.main(["ingest", db, repetitions_run]) == 0
    rows = results_of(db, "1")
    assert rows and all(r[3] == "ok" and r[6] == 3 for r in rows)
    assert counts(db)["samples"] == 3 * len(rows)
    [(key, name, commit, dirty)] = sqlite3.connect(db).execute(
        "SELECT machine_key, machine_name, git_commit, dirty FROM runs").fetchall()
    context = json.load(open(repetitions_run))["context"]
    assert key == f"cpu: {context['cpu_model']} | {context['cpu_threads']} threads"
    assert dirty == context["git_commit"].endswith("-dirty")


def test_export_csv_and_jsonl_one_row_per_result(tmp_path):
    db = str(tmp_path / "h.sqlite")
    assert history.main(["ingest", db, *GOOD]) == 0
    assert history.main(["export", db, "--csv", str(tmp_path / "h.csv")]) == 0
    assert history.main(["export", db, "--jsonl", str(tmp_path / "h.jsonl")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "h.csv")))
    lines = [json.loads(line) for line in open(tmp_path / "h.jsonl")]
    assert len(rows) == len(lines) == counts(db)["results"]
    epoch = next(r for r in rows if r["family"] == "BM_TrainEpoch")
    assert epoch["axis_batch"] and epoch["machine_key"] and epoch["status"] == "ok"
    errored = [r for r in lines if r["status"] != "ok"]
    assert errored and all(r["value"] is None and r["message"] for r in errored)
    assert lines[0]["axes"] == {k[5:]: v for k, v in rows[0].items() if k.startswith("axis_") and v}


def bad_cases(tmp_path):
    """(argv, the path or flag the line names, what it says)."""
    good = str(tmp_path / "good.sqlite")
    assert history.main(["ingest", good, GOOD[0]]) == 0
    text = tmp_path / "text.sqlite"
    text.write_text("not a database\n" * 100)
    missing = str(tmp_path / "missing.sqlite")
    return [
        (["check", missing], missing, "no such file (ingest runs into it first)"),
        (["check", str(text)], str(text), "not a history database: file is not a database"),
        (["report", missing, str(tmp_path / "o.html")], missing, "no such file"),
        (["export", missing, "--csv", str(tmp_path / "o.csv")], missing, "no such file"),
        (["ingest", str(text), GOOD[0]], str(text), "not a history database"),
        (["check", good, "--floor", "-1"], "--floor", "'-1' is not a finite number >= 0"),
        (["check", good, "--metric-floor", "time"], "--metric-floor", "'time' is not NAME=PCT"),
        (["check", good, "--filter", "("], "--filter", "'(' is not a regular expression"),
        (["check", good, "--filter", "^nothing$"], good, "no benchmark of these runs matches"),
        (["check", good, "--machine", "TPU"], "--machine", "'TPU' names no machine; the "
                                                           "machines are: cpu: "),
        (["report", good, str(tmp_path / "o.html"), "--reference", "x"], "--reference",
         "'x' names no machine"),
        (["report", good, str(tmp_path / "no" / "o.html")], str(tmp_path / "no" / "o.html"),
         "cannot write: No such file or directory"),
        (["check", good, "--json", str(tmp_path / "no" / "c.json")],
         str(tmp_path / "no" / "c.json"), "cannot write"),
    ]


def test_bad_input_to_every_subcommand_is_one_line_and_exit_2(tmp_path, capsys):
    for argv, named, problem in bad_cases(tmp_path):
        capsys.readouterr()
        assert history.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.splitlines()) == 1, (argv, err)
        assert err.startswith(f"history: {named}: ") and problem in err, (argv, err)


def test_as_users_run_it(tmp_path):
    result = run_script("history", "check", str(tmp_path / "none.sqlite"))
    assert result.returncode == 2 and result.stderr == (
        f"history: {tmp_path / 'none.sqlite'}: no such file (ingest runs into it first)\n")
    assert history_db.SCHEMA_VERSION == 1
