"""Tests for tools/compare.py: ratios, p-values, regressions, context, CLI exit codes."""

import json
import math

import pytest

import compare
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
    return compare.get_difference_report(gbench.load_run(base), gbench.load_run(new),
                                         name_filter)


def by_name(report):
    return {r["name"]: r for r in report["benchmarks"]}


# ---- small functions ----------------------------------------------------------

def test_calculate_ratio_and_change():
    assert compare.calculate_ratio(2.0, 3.0) == pytest.approx(1.5)
    assert compare.calculate_change(2.0, 3.0) == pytest.approx(50.0)
    assert compare.calculate_change(-2.0, -1.0) == pytest.approx(50.0)
    assert compare.calculate_ratio(0.0, 0.0) == 1.0
    assert compare.calculate_change(0.0, 0.0) == 0.0
    assert compare.calculate_ratio(0.0, 1.0) is None
    assert compare.calculate_change(0.0, 1.0) is None
    assert compare.calculate_ratio(None, 1.0) is None
    assert compare.calculate_ratio(1.0, float("nan")) is None


def test_mann_whitney_p():
    assert compare.mann_whitney_p([1.0], [2.0, 3.0]) is None
    assert compare.mann_whitney_p([1.0, 2.0], [3.0]) is None
    # fully separated 3 vs 3: the smallest two-sided exact p-value, 2/20
    assert compare.mann_whitney_p([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(0.1)
    assert compare.mann_whitney_p([1.0, 1.0], [1.0, 1.0]) == pytest.approx(1.0)


@pytest.mark.parametrize("change,direction,expected", [
    (6.0, "lower", True), (4.0, "lower", False), (-50.0, "lower", False),
    (-6.0, "higher", True), (-4.0, "higher", False), (30.0, "higher", False),
    (-90.0, "neutral", False), (None, "lower", False)])
def test_is_worse(change, direction, expected):
    assert compare.is_worse(change, direction, 5.0) is expected


@pytest.mark.parametrize("change,direction,text", [
    (-10.0, "lower", "better"), (10.0, "lower", "worse"), (10.0, "higher", "better"),
    (-10.0, "higher", "worse"), (10.0, "neutral", ""), (0.01, "higher", ""),
    (None, "higher", "")])
def test_verdict(change, direction, text):
    assert compare.verdict(change, direction) == text


def test_json_safe_replaces_non_finite():
    assert compare.json_safe({"a": [1.0, float("nan")], "b": float("inf"), "c": "x"}) == \
        {"a": [1.0, None], "b": None, "c": "x"}


# ---- difference report --------------------------------------------------------

def test_report_ratios_pvalue_counters_and_one_sided_names():
    report = report_for(REPS, SLOWER)
    rows = by_name(report)
    assert set(rows) == {"BM_memcpy/8", "BM_memcpy/64"}
    slow = rows["BM_memcpy/64"]
    assert slow["time_ratio"] == pytest.approx(1.3)
    assert slow["time_change_pct"] == pytest.approx(30.0)
    assert slow["p_value"] == pytest.approx(0.1)
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
    assert report["errored"] == [{"name": "BM_memcpy/64", "problems": [
        {"side": "run", "message": "buffer allocation failed"}]}]
    assert "BM_memcpy/64" not in report["only_in_baseline"]


def test_report_filter():
    import re
    report = report_for(REPS, SLOWER, re.compile(r"memcpy/64$"))
    assert [r["name"] for r in report["benchmarks"]] == ["BM_memcpy/64"]
    assert report["only_in_baseline"] == []


def test_find_regressions_threshold():
    report = report_for(REPS, SLOWER)
    found = compare.find_regressions(report, 5.0)
    metrics = {(f["name"], f["metric"]) for f in found}
    assert metrics == {("BM_memcpy/64", "time"), ("BM_memcpy/64", "bytes_per_second"),
                       ("BM_memcpy/64", "items_per_second")}
    assert by_name(report)["BM_memcpy/64"]["regressions"][0] == "time"
    assert compare.find_regressions(report, 35.0) == []
    assert by_name(report)["BM_memcpy/64"]["regressions"] == []


def test_find_regressions_ignores_lower_is_better_counters(tmp_path):
    base = write_doc(tmp_path / "a.json", [row("BM_a", 10.0, peak_alloc_MB=100.0,
                                               samples_per_second=50.0)])
    new = write_doc(tmp_path / "b.json", [row("BM_a", 10.0, peak_alloc_MB=300.0,
                                              samples_per_second=40.0)])
    found = compare.find_regressions(report_for(base, new), 10.0)
    assert [f["metric"] for f in found] == ["samples_per_second"]


def test_context_differences():
    runs = [gbench.load_run(CPU), gbench.load_run(GPU)]
    diffs = {key: values for key, _, values in compare.context_differences(runs)}
    assert diffs["device_name"] == ["cpu only", "NVIDIA H100 80GB HBM3"]
    assert diffs["cpu_model"] == ["AMD EPYC 7B13", "Intel Xeon Platinum 8480+"]
    assert diffs["num_cpus"] == [16, 32]
    assert diffs["host_name"] == ["lab-cpu-01", "gpu-node-7"]
    assert "libtorch_version" not in diffs          # same on both
    same = [gbench.load_run(REPS), gbench.load_run(AGG_ONLY)]
    assert compare.context_differences(same) == []


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
    assert "regressed beyond 5%" in captured.err
    assert compare.main([REPS, SLOWER, "--threshold", "40"]) == 0
    assert compare.main([REPS, SLOWER]) == 0


def test_cli_prints_context_one_sided_and_errored(capsys):
    assert compare.main([CPU, GPU]) == 0
    out = capsys.readouterr().out
    assert "Context that differs:" in out
    assert "NVIDIA H100 80GB HBM3" in out and "lab-cpu-01" in out
    assert "CUDA driver" in out and "550.54.15" in out
    assert "Only in baseline (11):" in out
    assert "Errored, not compared (1):" in out and "CUDA out of memory" in out
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
    rows = by_name(report_for(real, real))
    assert rows["BM_memcpy/64"]["p_value"] == pytest.approx(1.0)
