"""Tests for tools/comparison.py's functions: ratios and changes, verdicts, the Mann-Whitney
p-value and its reasons, the difference report of two runs, regressions, the context that
differs."""

import math

import pytest

import comparison
import gbench
from comparing import AGG_ONLY, CPU, ERRORED, GPU, REPS, SLOWER, SPIN, by_name, report_for
from conftest import input_path, row, write_doc


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
