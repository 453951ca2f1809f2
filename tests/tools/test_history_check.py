"""history.py check on synthetic histories built from real trainbench files (history_synthetic):
pure noise gives no regression, an injected step is one where it was injected and after two
runs, a step at a LibTorch upgrade is reported with it, a new OOM is a regression, too short a
history is insufficient data; runs are ordered by the project's commits; the machine key."""

import json
import subprocess

import pytest

import declarations
import gbench
import history
import history_check
import history_db
import history_series
import history_synthetic as synthetic
from conftest import ROOT

NAMES = synthetic.bench_names(limit=10)
SLOW = NAMES[3]         # the benchmark a step is injected into
OOM = ("out of memory at epoch 1 of BM_TrainEpoch: CUDA out of memory. Tried to allocate "
       "2.00 GiB")


def check(tmp_path, name="h", extra=(), **history_args):
    """Writes a history, ingests it, runs check --json; (exit status, series by class)."""
    db = str(tmp_path / f"{name}.sqlite")
    synthetic.write_history(str(tmp_path / name), benchmarks=NAMES, **history_args)
    assert history.main(["ingest", db, str(tmp_path / name)]) == 0
    out = tmp_path / f"{name}.json"
    status = history.main(["check", db, "--json", str(out), *extra])
    found = {}
    for entry in json.loads(out.read_text())["series"]:
        found.setdefault(entry["class"], []).append(entry)
    return status, found


def failing(found):
    return found.get("regression", []) + found.get("new error", [])


def test_pure_noise_is_no_regression(tmp_path, capsys):
    status, found = check(tmp_path, machines=("h100", "a100", "l4"), runs=30, cv=0.03, seed=1)
    assert status == 0 and not failing(found), failing(found)
    judged = sum(len(v) for v in found.values())
    assert judged > 300 and len(found.get("unchanged", [])) > 0.95 * judged
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"{judged} series: ")


def test_a_slowdown_is_suspected_after_one_run_and_a_regression_after_two(tmp_path):
    # 1% noise: a 10% step is well beyond 4 robust standard deviations (4%) and the 5% floor.
    step = [("a100", SLOW, "time", 28, 1.10)]
    status, found = check(tmp_path, "one", machines=("h100", "a100"), runs=29, steps=step)
    assert status == 0 and not failing(found)
    [suspected] = found["suspected"]
    assert (suspected["machine"]["name"], suspected["metric"]) == ("NVIDIA A100-SXM4-40GB", "time")
    status, found = check(tmp_path, "two", machines=("h100", "a100"), runs=30, steps=step)
    assert status == 1
    [regression] = failing(found)
    assert regression["class"] == "regression" and regression["flagged_runs"] == 2
    assert regression["machine"]["key"].startswith("gpu: NVIDIA A100-SXM4-40GB | 40326 MB")
    assert regression["benchmark"] == gbench.match_key(SLOW, None, declarations.FALLBACK_ADDED_AXES)
    assert 8 < regression["change_pct"] < 12 and regression["newest_value"] > regression["baseline_median"]
    assert len(regression["runs"]["baseline"]) == 10 and regression["runs"]["newest"].endswith("a100-0029.json")
    assert regression["software_change"] == []
    assert not found.get("suspected")       # nowhere else


def test_a_step_with_a_libtorch_upgrade_is_reported_with_it(tmp_path, capsys):
    status, found = check(tmp_path, machines=("h100",), runs=30,
                          steps=[("h100", SLOW, "samples_per_second", 27, 0.85)],
                          software=[(27, {"libtorch_version": "2.11.0"})])
    assert status == 1
    [regression] = failing(found)
    assert regression["metric"] == "samples_per_second" and regression["direction"] == "higher"
    assert regression["software_change"] == ["LibTorch 2.10.0 -> 2.11.0"]
    assert regression["flagged_runs"] == 3
    assert "changed with LibTorch 2.10.0 -> 2.11.0" in capsys.readouterr().out


def test_an_improvement_is_not_a_regression(tmp_path):
    status, found = check(tmp_path, machines=("h100",), runs=20,
                          steps=[("h100", SLOW, "time", 18, 0.8)])
    assert status == 0 and [e["metric"] for e in found["improvement"]] == ["time"]


def test_a_new_oom_is_a_regression(tmp_path, capsys):
    status, found = check(tmp_path, machines=("h100", "a100"), runs=12,
                          errors=[("a100", SLOW, 11, OOM)])
    assert status == 1
    [new] = failing(found)
    assert (new["class"], new["metric"], new["newest_status"]) == ("new error", "time", "errored")
    assert new["newest_value"] is None and new["message"] == OOM
    assert "new error: NVIDIA A100-SXM4-40GB" in capsys.readouterr().out
    # The benchmark's counters are not judged by their older values.
    assert not [e for c in found.values() for e in c
                if e["benchmark"] == new["benchmark"] and e["machine"] == new["machine"]
                and e is not new]


def test_an_error_that_never_ran_is_not_measured_not_a_regression(tmp_path):
    status, found = check(tmp_path, machines=("h100",), runs=6, errors=[("h100", SLOW, 0, OOM)])
    assert status == 0 and len(found["not measured"]) == 1


def test_insufficient_data(tmp_path):
    # Three runs: the newest has two earlier ones, fewer than the three a baseline needs.
    status, found = check(tmp_path, "short", machines=("h100",), runs=3)
    assert status == 0 and set(found) == {"insufficient data"}
    status, found = check(tmp_path, "enough", machines=("h100",), runs=4)
    assert "insufficient data" not in found


def test_dirty_runs_are_shown_but_never_a_baseline(tmp_path):
    commits = [f"{i:012x}" + ("-dirty" if 20 <= i < 29 else "") for i in range(30)]
    # The dirty runs are 30% slower: in a baseline they would hide the step of the newest.
    steps = [("h100", SLOW, "time", 20, 1.3), ("h100", SLOW, "time", 29, 1.0 / 1.3 * 1.12)]
    status, found = check(tmp_path, machines=("h100",), runs=30, commits=commits, steps=steps)
    # The dirty runs are judged (shown, each flagged against the clean runs before them).
    [regression] = found["regression"]
    assert regression["flagged_runs"] == 10
    assert regression["runs"]["baseline"] == [str(tmp_path / "h" / f"h100-{i:04d}.json")
                                              for i in range(10, 20)]
    assert 10 < regression["change_pct"] < 14


def test_floors_per_metric_and_machine(tmp_path):
    step = [("a100", SLOW, "time", 28, 1.10)]
    status, _ = check(tmp_path, "metric", machines=("a100",), runs=30, steps=step,
                      extra=["--metric-floor", "time=15"])
    assert status == 0
    status, _ = check(tmp_path, "machine", machines=("a100",), runs=30, steps=step,
                      extra=["--machine-floor", "NVIDIA A100-SXM4-40GB=15"])
    assert status == 0
    assert history_check.Floors(5, {"time": 8}, {"m": 12}).of("m", "time") == 12


def test_filter_and_machine(tmp_path):
    step = [("a100", SLOW, "time", 28, 1.10)]
    status, found = check(tmp_path, machines=("h100", "a100"), runs=30, steps=step,
                          extra=["--machine", "NVIDIA H100 80GB HBM3"])
    assert status == 0 and {e["machine"]["name"] for c in found.values() for e in c} == \
        {"NVIDIA H100 80GB HBM3"}
    db = str(tmp_path / "h.sqlite")
    out = tmp_path / "f.json"
    assert history.main(["check", db, "--filter", "batch:1024", "--json", str(out)]) == 0
    assert {e["benchmark"] for e in json.loads(out.read_text())["series"]} == \
        {n for n in (e["benchmark"] for c in found.values() for e in c) if "batch:1024" in n}


def git_commits(count):
    """The project's newest commits, oldest first (as git rev-list --topo-order puts them)."""
    out = subprocess.run(["git", "-C", ROOT, "rev-list", "--topo-order", f"--max-count={count}",
                          "HEAD"], capture_output=True, text=True)
    return [c[:12] for c in out.stdout.split()][::-1]


def test_runs_are_ordered_by_the_projects_commits(tmp_path):
    commits = git_commits(6)
    if len(commits) < 6:
        pytest.skip("the project's git history is not here")
    db = str(tmp_path / "h.sqlite")
    # Dates say the reverse of the commits: the commits win where they are in the project.
    paths = synthetic.write_history(str(tmp_path / "runs"), machines=("h100",), runs=6,
                                    benchmarks=NAMES[:1], commits=commits[::-1])
    assert history.main(["ingest", db, *paths]) == 0
    ordered = history_series.load_history(history_db.open_db(db), ROOT).runs
    [runs] = ordered.values()
    assert [r.commit for r in runs] == commits
    outside = history_series.load_history(history_db.open_db(db), str(tmp_path)).runs
    assert [r.commit for r in next(iter(outside.values()))] == commits[::-1]   # by date


def test_the_machine_key_is_the_hardware_only():
    gpu = dict(synthetic.MACHINES["h100"], host_name="a", mhz_per_cpu=2000,
               max_sm_clock_MHz="1980", libtorch_version="2.10.0", date="x")
    other = dict(gpu, host_name="b", mhz_per_cpu=3100, max_sm_clock_MHz="1755",
                 libtorch_version="2.11.0", cuda_driver_version="13.0")
    assert history_db.machine_key(gpu) == history_db.machine_key(other) == (
        "gpu: NVIDIA H100 80GB HBM3 | 81559 MB | 132 SMs | cc 9.0", "NVIDIA H100 80GB HBM3")
    assert history_db.machine_key(dict(gpu, world_size="8")) == (
        "gpu: NVIDIA H100 80GB HBM3 | 81559 MB | 132 SMs | cc 9.0 | 8 GPUs",
        "NVIDIA H100 80GB HBM3 x8")
    cpu = {"device_name": "cpu only", "cpu_model": "AMD EPYC", "cpu_threads": "2",
           "mhz_per_cpu": 2596, "host_name": "vm"}
    assert history_db.machine_key(cpu) == ("cpu: AMD EPYC | 2 threads", "AMD EPYC")
    assert history_db.machine_key(dict(cpu, mhz_per_cpu=1200, host_name="x"))[0] == \
        "cpu: AMD EPYC | 2 threads"


def test_a_perturbed_run_is_shown_but_never_judged_or_a_baseline(tmp_path):
    # trainbench marks a benchmark the process was paused in (perturbed, paused_s): its
    # 50% slower time is neither a regression nor, later, part of a baseline.
    paths = synthetic.write_history(str(tmp_path / "runs"), machines=("h100",), runs=12,
                                    benchmarks=NAMES)
    for path in paths[-2:]:
        doc = json.loads(open(path).read())
        for row in doc["benchmarks"]:
            if row["name"] == SLOW:
                row.update(real_time=row["real_time"] * 1.5, perturbed=1, paused_s=6.0)
        open(path, "w").write(json.dumps(doc))
    db = str(tmp_path / "h.sqlite")
    assert history.main(["ingest", db, *paths]) == 0
    assert history.main(["check", db, "--json", str(tmp_path / "c.json")]) == 0
    series = json.loads((tmp_path / "c.json").read_text())["series"]
    [paused] = [s for s in series if s["metric"] == "time" and s["class"] == "not measured"]
    assert paused["message"] == "perturbed: paused 1 times, 6.0 s"
    assert not [s for s in series if s["class"] not in ("unchanged", "not measured")]
