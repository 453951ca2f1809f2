"""Tests for tools/compare.py and comparison.py: ratios, p-values, regressions, context, CLI
exit codes."""

import json
import math
import re

import pytest

import compare
import comparison
import gbench
from conftest import input_path, row, run_script, write_doc

REPS = input_path("gbench_repetitions.json")
SLOWER = input_path("gbench_repetitions_slower.json")
AGG_ONLY = input_path("gbench_aggregates_only.json")
ERRORED = input_path("gbench_errored.json")
CPU = input_path("trainbench_cpu.json")
GPU = input_path("trainbench_gpu.json")
SPIN = "BM_spin/iterations:1000/real_time/threads:2"


def report_for(base, new, name_filter=None):
    return comparison.get_difference_report(gbench.load_run(base), gbench.load_run(new),
                                            name_filter)


def by_name(report):
    return {r["name"]: r for r in report["benchmarks"]}


# ---- small functions ----------------------------------------------------------

def test_calculate_ratio_and_change():
    assert comparison.calculate_ratio(2.0, 3.0) == pytest.approx(1.5)
    assert comparison.calculate_change(2.0, 3.0) == pytest.approx(50.0)
    assert comparison.calculate_change(-2.0, -1.0) == pytest.approx(50.0)
    assert comparison.calculate_ratio(0.0, 0.0) == 1.0
    assert comparison.calculate_change(0.0, 0.0) == 0.0
    assert comparison.calculate_ratio(0.0, 1.0) is None
    assert comparison.calculate_change(0.0, 1.0) is None
    assert comparison.calculate_ratio(None, 1.0) is None
    assert comparison.calculate_ratio(1.0, float("nan")) is None


def test_mann_whitney_p():
    assert comparison.mann_whitney_p([1.0], [2.0, 3.0]) is None
    assert comparison.mann_whitney_p([1.0, 2.0], [3.0]) is None
    # fully separated 3 vs 3: the smallest two-sided exact p-value, 2/20
    assert comparison.mann_whitney_p([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(0.1)
    assert comparison.mann_whitney_p([1.0, 1.0], [1.0, 1.0]) == pytest.approx(1.0)


@pytest.mark.parametrize("change,direction,expected", [
    (6.0, "lower", True), (4.0, "lower", False), (-50.0, "lower", False),
    (-6.0, "higher", True), (-4.0, "higher", False), (30.0, "higher", False),
    (-90.0, "neutral", False), (None, "lower", False)])
def test_is_worse(change, direction, expected):
    assert comparison.is_worse(change, direction, 5.0) is expected


@pytest.mark.parametrize("change,direction,text", [
    (-10.0, "lower", "better"), (10.0, "lower", "worse"), (10.0, "higher", "better"),
    (-10.0, "higher", "worse"), (10.0, "neutral", ""), (0.01, "higher", ""),
    (None, "higher", "")])
def test_verdict(change, direction, text):
    assert comparison.verdict(change, direction) == text


def test_json_safe_replaces_non_finite():
    assert comparison.json_safe({"a": [1.0, float("nan")], "b": float("inf"), "c": "x"}) == \
        {"a": [1.0, None], "b": None, "c": "x"}


# ---- difference report --------------------------------------------------------

def test_report_ratios_pvalue_counters_and_one_sided_names():
    report = report_for(REPS, SLOWER)
    rows = by_name(report)
    assert set(rows) == {"BM_memcpy/8", "BM_memcpy/64"}
    slow = rows["BM_memcpy/64"]
    assert slow["time_ratio"] == pytest.approx(1.3)
    assert slow["time_change_pct"] == pytest.approx(30.0)
    # 3 vs 3 repetitions: even complete separation gives only p = 0.1
    assert slow["p_value"] is None and slow["p_value_reason"] == "n too small"
    counters = {c["name"]: c for c in slow["counters"]}
    assert counters["bytes_per_second"]["direction"] == "higher"
    assert counters["bytes_per_second"]["ratio"] == pytest.approx(1 / 1.3, rel=1e-3)
    assert rows["BM_memcpy/8"]["time_ratio"] == pytest.approx(1.0)
    assert report["only_in_baseline"] == [SPIN]
    assert report["only_in_run"] == ["BM_new_only"]
    assert report["geomean"]["time_ratio"] == pytest.approx(math.sqrt(1.3))
    assert report["geomean"]["benchmarks"] == 2


def test_report_only_shared_counters_are_compared(tmp_path):
    base = write_doc(tmp_path / "a.json", [row("BM_a", 10.0, a=1.0, b=2.0)])
    new = write_doc(tmp_path / "b.json", [row("BM_a", 20.0, b=4.0, c=3.0)])
    rows = by_name(report_for(base, new))
    assert [c["name"] for c in rows["BM_a"]["counters"]] == ["b"]
    assert rows["BM_a"]["counters"][0]["ratio"] == pytest.approx(2.0)
    assert rows["BM_a"]["p_value"] is None


def test_report_units_do_not_change_ratios():
    rows = by_name(report_for(input_path("gbench_units_a.json"),
                              input_path("gbench_units_b.json")))
    assert set(rows) == {"BM_ns", "BM_us", "BM_ms", "BM_s"}
    for r in rows.values():
        assert r["time_ratio"] == pytest.approx(1.0)


def test_report_aggregates_only_side_gives_no_pvalue():
    rows = by_name(report_for(REPS, AGG_ONLY))
    assert rows["BM_memcpy/64"]["new"]["source"] == "mean"
    assert rows["BM_memcpy/64"]["new"]["samples"] == 1
    assert rows["BM_memcpy/64"]["p_value"] is None
    assert rows["BM_memcpy/64"]["time_ratio"] == pytest.approx(1.0)


def test_report_lists_errored_and_does_not_compare_them():
    report = report_for(REPS, ERRORED)
    assert "BM_memcpy/64" not in by_name(report)
    assert report["errored"] == [{
        "name": "BM_memcpy/64", "run_name": "BM_memcpy/64", "in_baseline": True,
        "settings_note": "",
        "problems": [{"side": "run", "message": "buffer allocation failed"}]}]
    assert "BM_memcpy/64" not in report["only_in_baseline"]


def test_report_filter():
    import re
    report = report_for(REPS, SLOWER, re.compile(r"memcpy/64$"))
    assert [r["name"] for r in report["benchmarks"]] == ["BM_memcpy/64"]
    assert report["only_in_baseline"] == []


def test_find_regressions_threshold():
    report = report_for(REPS, SLOWER)
    found = comparison.find_regressions(report, 5.0)
    metrics = {(f["name"], f["metric"]) for f in found}
    assert metrics == {("BM_memcpy/64", "time"), ("BM_memcpy/64", "bytes_per_second"),
                       ("BM_memcpy/64", "items_per_second")}
    assert by_name(report)["BM_memcpy/64"]["regressions"][0] == "time"
    assert comparison.find_regressions(report, 35.0) == []
    assert by_name(report)["BM_memcpy/64"]["regressions"] == []


def test_find_regressions_ignores_lower_is_better_counters(tmp_path):
    base = write_doc(tmp_path / "a.json", [row("BM_a", 10.0, peak_alloc_MB=100.0,
                                               samples_per_second=50.0)])
    new = write_doc(tmp_path / "b.json", [row("BM_a", 10.0, peak_alloc_MB=300.0,
                                              samples_per_second=40.0)])
    found = comparison.find_regressions(report_for(base, new), 10.0)
    assert [f["metric"] for f in found] == ["samples_per_second"]


def test_context_differences():
    runs = [gbench.load_run(CPU), gbench.load_run(GPU)]
    diffs = {key: values for key, _, values in comparison.context_differences(runs)}
    assert diffs["device_name"] == ["cpu only", "NVIDIA H100 80GB HBM3"]
    assert diffs["pcie_link"] == [None, "gen5 x16"]
    assert diffs["data_dir"] == ["data/cifar-10", "/usr/share/datasets/fashion-mnist"]
    assert "dataset" not in diffs                   # trainbench never writes it
    assert diffs["cpu_model"] == ["AMD EPYC 7B13", "Intel Xeon Platinum 8480+"]
    assert diffs["num_cpus"] == [16, 32]
    assert diffs["host_name"] == ["lab-cpu-01", "gpu-node-7"]
    assert "libtorch_version" not in diffs          # same on both
    same = [gbench.load_run(REPS), gbench.load_run(AGG_ONLY)]
    assert comparison.context_differences(same) == []


# ---- CLI ------------------------------------------------------------------------

def test_cli_same_runs_exit_0(capsys):
    assert compare.main([REPS, REPS, "--threshold", "1"]) == 0
    out = capsys.readouterr().out
    assert "Context: no difference" in out
    assert "geomean (3 benchmarks, time)" in out


def test_cli_threshold_regression_exit_1(capsys):
    assert compare.main([REPS, SLOWER, "--threshold", "5"]) == 1
    captured = capsys.readouterr()
    assert "REGRESSION" in captured.out
    assert "BM_memcpy/64: time +30.0%" in captured.out
    assert "1 regressed beyond 5%" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert compare.main([REPS, SLOWER, "--threshold", "40"]) == 0
    assert compare.main([REPS, SLOWER]) == 0


def test_cli_prints_context_matches_and_one_sided(capsys):
    assert compare.main([CPU, GPU]) == 0
    out = capsys.readouterr().out
    assert "Context that differs:" in out
    assert "NVIDIA H100 80GB HBM3" in out and "lab-cpu-01" in out
    assert "CUDA driver" in out and "12.8" in out
    assert "PCIe link" in out and "gen5 x16" in out
    # the CPU Part 1 epoch (iterations:1) matches the GPU file's (iterations:2)
    matched = [line for line in out.splitlines()
               if line.startswith("BM_TrainEpoch/batch:64/model:Medium/workers:0/")]
    assert len(matched) == 1 and "device:cpu/iterations:1/" in matched[0]
    assert matched[0].rstrip().endswith("iterations 1->2")
    assert "Only in baseline (11):" in out
    assert "samples_per_second [higher is better]" in out


def test_cli_more_than_two_runs_compares_each_with_baseline(tmp_path, capsys):
    out_json = tmp_path / "cmp.json"
    assert compare.main([REPS, SLOWER, AGG_ONLY, "--json", str(out_json)]) == 0
    doc = json.loads(out_json.read_text())
    assert doc["baseline"] == REPS
    assert [c["run"]["path"] for c in doc["comparisons"]] == [SLOWER, AGG_ONLY]
    assert all(c["baseline"]["path"] == REPS for c in doc["comparisons"])
    agg = {r["name"]: r for r in doc["comparisons"][1]["benchmarks"]}
    assert agg["BM_memcpy/8"]["p_value"] is None
    assert capsys.readouterr().out.count("vs baseline") == 2


def test_cli_json_contains_regressions(tmp_path):
    out_json = tmp_path / "cmp.json"
    assert compare.main([REPS, SLOWER, "--threshold", "5", "--json", str(out_json)]) == 1
    doc = json.loads(out_json.read_text())
    assert doc["threshold_pct"] == 5.0
    assert {r["metric"] for r in doc["regressions"]} == {
        "time", "bytes_per_second", "items_per_second"}
    assert doc["comparisons"][0]["only_in_run"] == ["BM_new_only"]


def test_cli_filter(capsys):
    assert compare.main([REPS, SLOWER, "--filter", "memcpy/8$", "--threshold", "5"]) == 0
    assert "BM_memcpy/64" not in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    ([REPS, input_path("missing.json")], "missing.json: no such file"),
    ([REPS, input_path("truncated.json")], "truncated.json: malformed or truncated JSON"),
    ([input_path("not_gbench.json"), REPS], 'not_gbench.json: not Google Benchmark output'),
    ([REPS, input_path("gbench_units_a.json")], "no benchmark in common"),
    ([REPS, SLOWER, "--filter", "nothing-matches"], "no benchmark matching --filter"),
    ([REPS, SLOWER, "--filter", "("], "invalid --filter"),
    ([REPS], "need at least two"),
])
def test_cli_bad_input_exit_2(args, message, capsys):
    assert compare.main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_script_bad_input_has_no_traceback():
    result = run_script("compare", REPS, input_path("truncated.json"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("compare: ")


def test_script_regression_exit_status():
    result = run_script("compare", REPS, SLOWER, "--threshold", "5")
    assert result.returncode == 1
    assert "BM_memcpy/64" in result.stdout


def test_real_output_against_itself(capsys):
    real = input_path("gbench_real_v171.json")
    assert compare.main([real, real, "--threshold", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "Errored, not compared (1):" in out and "BM_err" in out
    assert "geomean (5 benchmarks, time)" in out
    assert "n too small" in out                    # 3 repetitions a side
    rows = by_name(report_for(real, real))
    assert rows["BM_memcpy/64"]["p_value"] is None
    assert rows["BM_memcpy/64"]["p_value_reason"] == "n too small"
    assert rows["BM_thr/min_time:0.010/threads:2"]["settings_note"] == ""


# ---- matching across run settings (--epochs changes iterations:N) ---------------

EPOCH = ("BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda"
         "/iterations:{}/manual_time")


def test_runs_with_different_iterations_match_and_show_a_note(tmp_path, capsys):
    base = write_doc(tmp_path / "a.json", [row(EPOCH.format(2), 1.5, "s",
                                               samples_per_second=40000.0)])
    new = write_doc(tmp_path / "b.json", [row(EPOCH.format(3), 1.2, "s",
                                              samples_per_second=50000.0)])
    report = report_for(base, new)
    assert report["only_in_baseline"] == [] and report["only_in_run"] == []
    [matched] = report["benchmarks"]
    assert matched["name"] == EPOCH.format(2)           # the baseline's name
    assert matched["run_name"] == EPOCH.format(3)
    assert matched["settings_note"] == "iterations 2->3"
    assert matched["time_ratio"] == pytest.approx(0.8)
    assert compare.main([base, new, "--threshold", "5"]) == 0
    out = capsys.readouterr().out
    line = [l for l in out.splitlines() if l.startswith("BM_TrainEpoch/")][0]
    assert line.startswith(EPOCH.format(2)) and line.endswith("iterations 2->3")
    assert EPOCH.format(3) not in out


def test_settings_note_lists_every_changed_setting():
    assert comparison.settings_note("BM_a/repeats:3/iterations:2/min_time:0.5",
                                    "BM_a/iterations:4/min_time:0.5") == \
        "repeats 3->-, iterations 2->4"
    assert comparison.settings_note("BM_a/iterations:2", "BM_a/iterations:2") == ""


def test_names_colliding_on_a_key_are_matched_by_full_name(tmp_path):
    base = write_doc(tmp_path / "a.json", [row("BM_a/iterations:2", 10.0),
                                           row("BM_a/iterations:3", 20.0),
                                           row("BM_b/iterations:2", 5.0)])
    new = write_doc(tmp_path / "b.json", [row("BM_a/iterations:2", 11.0),
                                          row("BM_a/iterations:5", 30.0),
                                          row("BM_b/iterations:7", 5.0)])
    report = report_for(base, new)
    rows = by_name(report)
    assert set(rows) == {"BM_a/iterations:2", "BM_b/iterations:2"}
    assert rows["BM_a/iterations:2"]["time_ratio"] == pytest.approx(1.1)
    assert rows["BM_a/iterations:2"]["settings_note"] == ""
    assert rows["BM_b/iterations:2"]["settings_note"] == "iterations 2->7"
    assert report["only_in_baseline"] == ["BM_a/iterations:3"]
    assert report["only_in_run"] == ["BM_a/iterations:5"]
    # a collision in one file only still keeps that key exact on both sides
    single = write_doc(tmp_path / "c.json", [row("BM_a/iterations:3", 21.0)])
    report = report_for(base, single)
    assert [r["name"] for r in report["benchmarks"]] == ["BM_a/iterations:3"]
    assert report["only_in_baseline"] == ["BM_a/iterations:2", "BM_b/iterations:2"]


def test_match_keys():
    old, new = comparison.match_keys(["BM_x/iterations:2/manual_time", "BM_y/threads:2"],
                                     ["BM_x/iterations:9/manual_time", "BM_y/threads:4"])
    assert old == {"BM_x/iterations:2/manual_time": "BM_x/manual_time",
                   "BM_y/threads:2": "BM_y/threads:2"}
    assert new["BM_x/iterations:9/manual_time"] == "BM_x/manual_time"
    assert new["BM_y/threads:4"] == "BM_y/threads:4"    # threads: never the same benchmark


# ---- errored and missing benchmarks as regressions -------------------------------

OOM = "CUDA out of memory. Tried to allocate 2.00 GiB"


def errored_pair(tmp_path, base_error=False):
    base_rows = [row("BM_ok", 10.0), row("BM_big/iterations:2", 100.0)]
    if base_error:
        base_rows[1] = row("BM_big/iterations:2", 0.0, error_occurred=True,
                           error_message="old failure")
    base = write_doc(tmp_path / "a.json", base_rows)
    new = write_doc(tmp_path / "b.json", [
        row("BM_ok", 10.0),
        row("BM_big/iterations:3", 0.0, error_occurred=True, error_message=OOM)])
    return base, new


def test_error_in_run_only_is_a_regression(tmp_path, capsys):
    base, new = errored_pair(tmp_path)
    out_json = tmp_path / "cmp.json"
    assert compare.main([base, new, "--threshold", "5", "--json", str(out_json)]) == 1
    captured = capsys.readouterr()
    assert "Regressions beyond 5%: 1 benchmark(s)" in captured.out
    assert (f"  BM_big/iterations:2: errored in the run but not in the baseline ({OOM})"
            in captured.out)
    assert "1 errored in the run but not in the baseline" in captured.err
    doc = json.loads(out_json.read_text())
    assert doc["regressions"] == [{"name": "BM_big/iterations:2", "metric": "error",
                                   "change_pct": None, "message": OOM}]
    assert doc["comparisons"][0]["errored"][0]["settings_note"] == "iterations 2->3"
    assert compare.main([base, new]) == 0           # no check asked for


def test_error_on_both_sides_or_baseline_only_is_not_a_regression(tmp_path):
    base, new = errored_pair(tmp_path, base_error=True)
    assert compare.main([base, new, "--threshold", "5"]) == 0
    assert compare.main([new, base, "--threshold", "5"]) == 0
    fine = write_doc(tmp_path / "fine.json", [row("BM_ok", 10.0),
                                              row("BM_big/iterations:2", 100.0)])
    assert compare.main([new, fine, "--threshold", "5"]) == 0   # errored only in baseline


def test_fail_on_missing(tmp_path, capsys):
    assert compare.main([REPS, SLOWER, "--threshold", "40"]) == 0
    capsys.readouterr()
    out_json = tmp_path / "cmp.json"
    assert compare.main([REPS, SLOWER, "--threshold", "40", "--fail-on-missing",
                         "--json", str(out_json)]) == 1
    captured = capsys.readouterr()
    assert f"  {SPIN}: missing from the run (only in the baseline)" in captured.out
    assert "1 missing from the run" in captured.err
    doc = json.loads(out_json.read_text())
    assert doc["fail_on_missing"] is True
    assert [(r["name"], r["metric"]) for r in doc["regressions"]] == [(SPIN, "missing")]
    # on its own, without --threshold: only missing (and newly errored) benchmarks count
    assert compare.main([REPS, SLOWER, "--fail-on-missing"]) == 1
    out = capsys.readouterr().out
    assert "Regressions: 1 benchmark(s)" in out and "REGRESSION" not in out
    assert compare.main([REPS, SLOWER, "--fail-on-missing", "--filter", "memcpy"]) == 0


# ---- p-values and sample sizes ------------------------------------------------------

@pytest.mark.parametrize("n1,n2,expected", [
    (2, 2, 1 / 3), (3, 3, 0.1), (4, 4, 2 / 70), (3, 4, 2 / 35), (2, 8, 2 / 45),
    (9, 9, 2 / 48620), (1, 1, 1.0)])
def test_min_two_sided_p(n1, n2, expected):
    assert comparison.min_two_sided_p(n1, n2) == pytest.approx(expected)


def test_p_value_reasons():
    assert comparison.p_value([1.0], [2.0, 3.0]) == (None, "fewer than 2 samples on a side")
    assert comparison.p_value([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == (None, "n too small")
    assert comparison.p_value([1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]) == (None, "n too small")
    p, reason = comparison.p_value([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0])
    assert p == pytest.approx(2 / 70) and reason is None
    p, reason = comparison.p_value([1.0, 2.0], [3.0 + i for i in range(8)])
    assert p == pytest.approx(2 / 45) and reason is None


def test_p_value_text_and_json(tmp_path, capsys):
    def reps(name, times):
        return [row(name, t, repetitions=len(times), repetition_index=i)
                for i, t in enumerate(times)]
    base = write_doc(tmp_path / "a.json", reps("BM_four", [1.0, 1.1, 1.2, 1.3])
                     + reps("BM_three", [1.0, 1.1, 1.2]) + [row("BM_one", 1.0)])
    new = write_doc(tmp_path / "b.json", reps("BM_four", [2.0, 2.1, 2.2, 2.3])
                    + reps("BM_three", [2.0, 2.1, 2.2]) + [row("BM_one", 2.0)])
    out_json = tmp_path / "cmp.json"
    assert compare.main([base, new, "--json", str(out_json)]) == 0
    lines = {l.split()[0]: l for l in capsys.readouterr().out.splitlines()
             if l.startswith("BM_")}
    assert "0.0286" in lines["BM_four"]
    assert "n too small" in lines["BM_three"]
    assert " n/a " in lines["BM_one"] and "n too small" not in lines["BM_one"]
    rows = {r["name"]: r for r in json.loads(out_json.read_text())["comparisons"][0]["benchmarks"]}
    assert rows["BM_four"]["p_value"] == pytest.approx(2 / 70)
    assert rows["BM_four"]["p_value_reason"] is None
    assert rows["BM_three"]["p_value"] is None
    assert rows["BM_three"]["p_value_reason"] == "n too small"
    assert rows["BM_one"]["p_value"] is None
    assert rows["BM_one"]["p_value_reason"] == "fewer than 2 samples on a side"


# ---- --threshold validation and the time row's marker -------------------------------

@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-inf", "abc", ""])
def test_cli_bad_threshold_exit_2(value, capsys):
    assert compare.main([REPS, SLOWER, f"--threshold={value}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compare: invalid --threshold")
    assert "finite number >= 0" in err
    assert len(err.strip().splitlines()) == 1


def test_script_bad_threshold_one_line_no_traceback():
    result = run_script("compare", REPS, SLOWER, "--threshold", "nan")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_cli_threshold_zero_is_valid(capsys):
    assert compare.main([REPS, REPS, "--threshold", "0"]) == 0


def test_time_row_is_marked_without_threshold(capsys):
    assert compare.main([REPS, SLOWER]) == 0
    lines = capsys.readouterr().out.splitlines()
    slow = [l for l in lines if l.startswith("BM_memcpy/64 ")][0]
    same = [l for l in lines if l.startswith("BM_memcpy/8 ")][0]
    assert slow.split()[-1] == "worse"
    assert not same.rstrip().endswith(("worse", "better"))   # +0.0%: no verdict
    assert compare.main([SLOWER, REPS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [l for l in lines if l.startswith("BM_memcpy/64 ")][0].split()[-1] == "better"


# ---- NaN and infinite values in the run ---------------------------------------------

NAN, INF = float("nan"), float("inf")


def non_finite_pair(tmp_path, time=10.0, **counters):
    """Baseline BM_a (3 repetitions) and BM_b, all finite; the run's BM_a has the given
    time and counters in its second repetition, the others as in the baseline."""
    finite = {"samples_per_second": 100.0, "train_loss": 0.5, "params_M": 0.4}
    def reps(second_time, second_counters):
        return [row("BM_a", second_time if i == 1 else 10.0, repetitions=3,
                    repetition_index=i, **(second_counters if i == 1 else finite))
                for i in range(3)] + [row("BM_b", 5.0)]
    base = write_doc(tmp_path / "a.json", reps(10.0, finite))
    new = write_doc(tmp_path / "b.json", reps(time, {**finite, **counters}))
    return base, new


@pytest.mark.parametrize("metric,value,text", [
    ("time", NAN, "NaN"), ("time", INF, "inf"),
    ("samples_per_second", INF, "inf"), ("samples_per_second", -INF, "-inf"),
    ("train_loss", NAN, "NaN"),          # lower is better: a diverged loss
    ("params_M", NAN, "NaN"),            # neutral counters count too
])
def test_non_finite_value_in_run_is_a_regression(tmp_path, capsys, metric, value, text):
    # One repetition of three is enough: the means skip it, so it showed as no change.
    if metric == "time":
        base, new = non_finite_pair(tmp_path, time=value)
    else:
        base, new = non_finite_pair(tmp_path, **{metric: value})
    out_json = tmp_path / "cmp.json"
    assert compare.main([base, new, "--threshold", "5", "--json", str(out_json)]) == 1
    captured = capsys.readouterr()
    assert f"  BM_a: {metric} is {text} in the run" in captured.out
    assert captured.err.strip() == ("compare: 1 benchmark(s) failed the check: "
                                    "1 with a NaN or infinite value in the run")
    doc = json.loads(out_json.read_text())
    assert doc["regressions"] == [{"name": "BM_a", "metric": metric, "change_pct": None,
                                   "message": f"{text} in the run"}]
    assert compare.main([base, new]) == 0           # no check asked for


def test_non_finite_value_in_baseline_only_is_not_a_regression(tmp_path):
    base, new = non_finite_pair(tmp_path, time=NAN, train_loss=INF)
    assert compare.main([new, base, "--threshold", "5"]) == 0


def test_non_finite_and_slower_in_one_benchmark_lists_each_metric_once(tmp_path, capsys):
    base, new = non_finite_pair(tmp_path, time=100.0, train_loss=NAN)
    assert compare.main([base, new, "--threshold", "5"]) == 1
    out = capsys.readouterr().out
    assert "  BM_a: train_loss is NaN in the run, time +300.0%" in out


# ---- --across: a world of one against a world of several ranks -------------------------

RANKS2 = input_path("trainbench_ranks2.json")
RANKS4 = input_path("trainbench_ranks4.json")
PART2_ONE = ("BM_TrainEpoch/batch:{}/model:Medium/workers:4/precision:fp32/pin:1/device:cpu"
             "/iterations:1/manual_time")


def raw_rows(path):
    with open(path, encoding="utf-8") as handle:
        return {r["name"]: r for r in json.load(handle)["benchmarks"]}


def test_across_ranks_pairs_a_plain_run_with_a_run_of_two_ranks():
    # trainbench_cpu.json has no ranks axis (nor graph): its epochs are ranks:1.
    report = comparison.get_difference_report(gbench.load_run(CPU), gbench.load_run(RANKS2),
                                              across="ranks")
    rows = by_name(report)
    batches = (32, 64, 128, 256)
    assert set(rows) == {PART2_ONE.format(b) for b in batches}
    one, two = raw_rows(CPU), raw_rows(RANKS2)
    for batch in batches:
        pair = rows[PART2_ONE.format(batch)]
        name2 = (f"BM_TrainEpoch/batch:{batch}/model:Medium/workers:4/precision:fp32/pin:1"
                 "/device:cpu/graph:0/ranks:2/iterations:1/manual_time")
        assert pair["run_name"] == name2
        assert pair["across"] == {"axis": "ranks", "base": "1", "new": "2"}
        sps = {c["name"]: c for c in pair["counters"]}["samples_per_second"]
        want = two[name2]["samples_per_second"] / one[PART2_ONE.format(batch)]["samples_per_second"]
        assert sps["ratio"] == pytest.approx(want) and sps["ratio"] > 1.5
        assert pair["time_ratio"] == pytest.approx(
            two[name2]["real_time"] / one[PART2_ONE.format(batch)]["real_time"])
        # The scaling counters exist on the ranks:2 side only: nothing to pair them with.
        assert "scaling_efficiency" not in {c["name"] for c in pair["counters"]}
    # Epochs with other settings (pin:0, other models) are the baseline's own; the
    # all-reduce exists only with several ranks.
    assert PART2_ONE.replace("pin:1", "pin:0").format(64) in report["only_in_baseline"]
    assert len(report["only_in_run"]) == 9
    assert all(n.startswith("BM_AllReduce/") for n in report["only_in_run"])


def test_without_across_a_plain_run_and_a_ranks_run_share_nothing(capsys):
    report = report_for(CPU, RANKS2)
    assert report["in_common"] == 0 and "across" not in report
    assert compare.main([CPU, RANKS2]) == 2
    err = capsys.readouterr().err
    assert err == (f"compare: {RANKS2}: no benchmark in common with baseline {CPU}\n")


def test_across_ranks_pairs_two_worlds_epochs_and_all_reduces(capsys, tmp_path):
    out_json = tmp_path / "c.json"
    assert compare.main([RANKS2, RANKS4, "--across=ranks", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "Paired across ranks" in out
    line = next(l for l in out.splitlines() if l.startswith("BM_AllReduce/bytes:268435456/"))
    assert line.split()[0] == "BM_AllReduce/bytes:268435456/ranks:2/manual_time"
    assert line.endswith("ranks 2->4")
    doc = json.loads(out_json.read_text())
    assert doc["across"] == "ranks"
    rows = {r["name"]: r for r in doc["comparisons"][0]["benchmarks"]}
    assert len(rows) == 4 + 9
    two, four = raw_rows(RANKS2), raw_rows(RANKS4)
    big = rows["BM_AllReduce/bytes:268435456/ranks:2/manual_time"]
    busbw = {c["name"]: c for c in big["counters"]}["busbw_GB_per_s"]
    assert busbw["direction"] == "higher"
    assert busbw["ratio"] == pytest.approx(
        four["BM_AllReduce/bytes:268435456/ranks:4/manual_time"]["busbw_GB_per_s"]
        / two["BM_AllReduce/bytes:268435456/ranks:2/manual_time"]["busbw_GB_per_s"])
    epoch = next(r for n, r in rows.items() if n.startswith("BM_TrainEpoch/batch:64/"))
    efficiency = {c["name"]: c for c in epoch["counters"]}["scaling_efficiency"]
    assert (efficiency["base"], efficiency["new"]) == (0.9, 0.8)
    assert efficiency["direction"] == "higher"
    assert {c["name"]: c["direction"] for c in epoch["counters"]}["comm_exposed_pct"] == "lower"


def test_across_an_axis_no_benchmark_has_is_one_line_and_exit_2(capsys):
    assert compare.main([CPU, RANKS2, "--across", "rank"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"compare: --across 'rank': no benchmark in {CPU}, {RANKS2} "
                               "has a 'rank' axis (the axes there: batch, bytes,")
    # A run setting is not an axis: matching already leaves iterations out.
    assert compare.main([CPU, RANKS2, "--across", "iterations"]) == 2
    assert "has a 'iterations' axis" in capsys.readouterr().err


def test_across_a_names_only_axis_works_on_any_benchmark(tmp_path, capsys):
    # --across is not only for ranks: two files that differ in one axis of their names.
    base = write_doc(tmp_path / "a.json", [row("BM_x/size:8/kind:a", 10.0),
                                           row("BM_x/size:64/kind:a", 20.0)])
    new = write_doc(tmp_path / "b.json", [row("BM_x/size:8/kind:b", 5.0),
                                          row("BM_x/size:64/kind:b", 30.0)])
    report = comparison.get_difference_report(gbench.load_run(base), gbench.load_run(new),
                                              across="kind")
    assert {r["name"]: r["time_ratio"] for r in report["benchmarks"]} == {
        "BM_x/size:8/kind:a": pytest.approx(0.5), "BM_x/size:64/kind:a": pytest.approx(1.5)}
    # A file with several values of the axis for the same other settings: those names are
    # matched by their full names, as names that collide on a key always are.
    both = write_doc(tmp_path / "c.json", [row("BM_x/size:8/kind:a", 10.0),
                                           row("BM_x/size:8/kind:b", 12.0)])
    report = comparison.get_difference_report(gbench.load_run(both), gbench.load_run(new),
                                              across="kind")
    assert [r["name"] for r in report["benchmarks"]] == ["BM_x/size:8/kind:b"]
    assert report["benchmarks"][0]["time_ratio"] == pytest.approx(5.0 / 12.0)


def test_a_gpu_runs_ranks1_row_is_its_ranks1_and_the_plain_row_keeps_its_name(tmp_path):
    # A plain run on a GPU has the first CUDA epoch twice: plain, and data-parallel over one
    # GPU (".../ranks:1"). Both read as ranks:1, so the one that spells it out is ranks:1.
    x = "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0"
    one = write_doc(tmp_path / "one.json", [
        row(x + "/iterations:2/manual_time", 1.0, "s", samples_per_second=100000.0),
        row(x + "/ranks:1/iterations:2/manual_time", 1.25, "s", samples_per_second=80000.0)])
    eight = write_doc(tmp_path / "eight.json", [
        row(x + "/ranks:8/iterations:2/manual_time", 0.25, "s", samples_per_second=320000.0)])
    rows = by_name(comparison.get_difference_report(gbench.load_run(one), gbench.load_run(eight),
                                                    across="ranks"))
    assert set(rows) == {x + "/ranks:1/iterations:2/manual_time"}
    pair = rows[x + "/ranks:1/iterations:2/manual_time"]
    assert pair["run_name"] == x + "/ranks:8/iterations:2/manual_time"
    assert {c["name"]: c for c in pair["counters"]}["samples_per_second"]["ratio"] == pytest.approx(4.0)
    # Two such GPU runs: each row pairs with its own kind.
    again = write_doc(tmp_path / "again.json", [
        row(x + "/iterations:2/manual_time", 0.5, "s", samples_per_second=200000.0),
        row(x + "/ranks:1/iterations:2/manual_time", 2.5, "s", samples_per_second=40000.0)])
    rows = by_name(report_for(one, again))
    assert {n: r["run_name"] for n, r in rows.items()} == {
        x + "/iterations:2/manual_time": x + "/iterations:2/manual_time",
        x + "/ranks:1/iterations:2/manual_time": x + "/ranks:1/iterations:2/manual_time"}
    assert rows[x + "/iterations:2/manual_time"]["time_ratio"] == pytest.approx(0.5)


# ---- counter directions the runs declare (context "counters") ---------------------------

def declaring(*entries):
    """A context whose "counters" (a JSON string, as trainbench writes it) declares these
    (name, better, unit) counters."""
    return {"counters": json.dumps({"counters": [
        {"name": n, "unit": u, "better": b, "families": ["BM_a"], "meaning": "a test's"}
        for n, b, u in entries]})}


def declared_pair(tmp_path, base_context=None, run_context=None, base=None, new=None):
    """Baseline and run of one benchmark BM_a, with these counters and contexts."""
    base = base or {"foo_ms": 10.0, "foo_rate": 100.0, "peak_alloc_MB": 100.0,
                    "train_loss": 1.0, "samples_per_second": 100.0}
    new = new or {"foo_ms": 15.0, "foo_rate": 50.0, "peak_alloc_MB": 50.0,
                  "train_loss": 2.0, "samples_per_second": 80.0}
    return (write_doc(tmp_path / "a.json", [row("BM_a", 10.0, **base)], base_context),
            write_doc(tmp_path / "b.json", [row("BM_a", 10.0, **new)], run_context))


def counter_rows(path):
    """{counter: its entry} of the one benchmark of a --json document."""
    doc = json.loads(path.read_text())
    return {c["name"]: c for c in doc["comparisons"][0]["benchmarks"][0]["counters"]}


def test_a_made_up_counter_the_run_declares_is_judged(tmp_path, capsys):
    # Without a declaration foo_ms and foo_rate are unknown: neutral, never judged.
    base, new = declared_pair(tmp_path)
    out_json = tmp_path / "cmp.json"
    assert compare.main([base, new, "--threshold", "5", "--json", str(out_json)]) == 1
    assert counter_rows(out_json)["foo_ms"]["direction"] == "neutral"
    assert "foo_rate" not in {r["metric"] for r in json.loads(out_json.read_text())["regressions"]}
    capsys.readouterr()
    # Declared by the run: foo_ms is lower-is-better (+50%: worse), foo_rate higher-is-better
    # (-50%: a regression beyond 5%), each with its unit.
    base, new = declared_pair(tmp_path, run_context=declaring(("foo_ms", "lower", "ms"),
                                                              ("foo_rate", "higher", "1/s")))
    assert compare.main([base, new, "--threshold", "5", "--json", str(out_json)]) == 1
    out = capsys.readouterr().out
    rows = counter_rows(out_json)
    assert rows["foo_ms"]["direction"] == "lower" and rows["foo_ms"]["unit"] == "ms"
    assert re.search(r"    foo_ms \(ms\) \[lower is better\] .* worse", out)
    assert rows["foo_rate"]["direction"] == "higher"
    assert re.search(r"    foo_rate \(1/s\) \[higher is better\] .* REGRESSION", out)
    assert "  BM_a: foo_rate -50.0%" in out
    assert "unit" not in rows["train_loss"]       # not declared: no unit


def test_a_known_counter_declared_otherwise_follows_the_declaration(tmp_path, capsys):
    # The fallback says peak_alloc_MB is lower-is-better (not checked), samples_per_second
    # higher-is-better (checked) and train_loss lower-is-better; this run says otherwise.
    context = declaring(("peak_alloc_MB", "higher", "MB"), ("samples_per_second", "lower", ""),
                        ("train_loss", "neither", "nats"))
    base, new = declared_pair(tmp_path, run_context=context)
    out_json = tmp_path / "cmp.json"
    assert compare.main([base, new, "--threshold", "5", "--json", str(out_json)]) == 1
    out = capsys.readouterr().out
    rows = counter_rows(out_json)
    assert {n: rows[n]["direction"] for n in ("peak_alloc_MB", "samples_per_second",
                                              "train_loss")} == {
        "peak_alloc_MB": "higher", "samples_per_second": "lower", "train_loss": "neutral"}
    regressions = json.loads(out_json.read_text())["regressions"]
    assert [r["metric"] for r in regressions] == ["peak_alloc_MB"]
    assert re.search(r"    samples_per_second \[lower is better\] .* better", out)
    assert re.search(r"    train_loss \(nats\) \[neutral\] +1 +2 +2\.000 +\+100\.0%$", out, re.M)


def test_the_baseline_s_declaration_serves_when_the_run_has_none(tmp_path):
    base, new = declared_pair(tmp_path, base_context=declaring(("foo_rate", "higher", "")))
    found = comparison.find_regressions(report_for(base, new), 5.0)
    assert "foo_rate" in {f["metric"] for f in found}
    # Both declare it: the run's declaration wins (it is the newer trainbench, usually).
    base, new = declared_pair(tmp_path, base_context=declaring(("foo_rate", "higher", "")),
                              run_context=declaring(("foo_rate", "neither", "")))
    report = report_for(base, new)
    assert "foo_rate" not in {f["metric"] for f in comparison.find_regressions(report, 5.0)}
    assert report["geomean"]["counters"]["foo_rate"]["direction"] == "neutral"


def test_a_real_run_s_declared_units_show_in_the_text():
    declared = input_path("trainbench_declared_cpu.json")
    proc = run_script("compare", declared, declared)
    assert proc.returncode == 0, proc.stderr
    assert "    samples_per_second (samples/s) [higher is better]" in proc.stdout
    assert "    params_M (millions) [neutral]" in proc.stdout


# ---- axes the runs declare (context "axes") ----------------------------------------------

def axes_context(*entries):
    """A context whose "axes" (a JSON string) declares (name, families, absent) axes."""
    return {"axes": json.dumps({"axes": [
        {"name": n, "families": list(f), "absent": a, "help": ""} for n, f, a in entries]})}


STREAM_AXES = axes_context(("graph", ["BM_TrainEpoch"], "0"), ("stream", ["BM_TrainEpoch"], "0"),
                           ("ranks", ["BM_TrainEpoch"], "1"))
STREAM_EPOCH = ("BM_TrainEpoch/batch:64/model:Small/workers:0/precision:fp32/pin:0/device:cpu"
                "{}/iterations:1/manual_time")


def test_an_axis_the_run_declares_matches_an_older_file_s_names_without_it(tmp_path):
    # The older file was written before "stream" existed: its names mean stream:0, as the
    # newer run declares. Without the declaration, the two would have nothing in common.
    old = write_doc(tmp_path / "old.json", [row(STREAM_EPOCH.format(""), 2.0, "s")])
    new = write_doc(tmp_path / "new.json", [
        row(STREAM_EPOCH.format("/graph:0/stream:0"), 1.0, "s"),
        row(STREAM_EPOCH.format("/graph:0/stream:1"), 0.5, "s")], STREAM_AXES)
    report = report_for(old, new)
    assert [(r["name"], r["run_name"]) for r in report["benchmarks"]] == [
        (STREAM_EPOCH.format(""), STREAM_EPOCH.format("/graph:0/stream:0"))]
    assert report["only_in_run"] == [STREAM_EPOCH.format("/graph:0/stream:1")]
    undeclared = write_doc(tmp_path / "undeclared.json", json.load(open(new))["benchmarks"])
    assert report_for(old, undeclared)["in_common"] == 0
    # --across takes the declared axis though the older file's names lack it.
    one = write_doc(tmp_path / "one.json", [row(STREAM_EPOCH.format("/graph:0/stream:1"),
                                                0.5, "s")], STREAM_AXES)
    report = comparison.get_difference_report(gbench.load_run(old), gbench.load_run(one),
                                              across="stream")
    assert report["benchmarks"][0]["across"] == {"axis": "stream", "base": "0", "new": "1"}
    assert report["benchmarks"][0]["time_ratio"] == pytest.approx(0.25)
    assert comparison.across_problem("stream", [gbench.load_run(old), gbench.load_run(one)]) is None
    assert comparison.across_problem("stream", [gbench.load_run(old)]) is not None
