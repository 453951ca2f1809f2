"""Tests for tools/compare.py's command line: exit statuses (--threshold, --fail-on-missing,
errored and non-finite values), the text and --json output, bad input, and the counter
directions the runs declare."""

import json
import re

import pytest

import compare
import comparison
from comparing import AGG_ONLY, CPU, GPU, REPS, SLOWER, SPIN, by_name, report_for
from conftest import input_path, row, run_script, write_doc


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


# ---- p-values in the text and the --json file ------------------------------------

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
    ("samples_per_second", INF, "inf"), ("samples_per_second", -INF, "-inf"),
    ("train_loss", NAN, "NaN"),          # lower is better: a diverged loss
    ("params_M", NAN, "NaN"),            # neutral counters count too
])
def test_non_finite_value_in_run_is_a_regression(tmp_path, capsys, metric, value, text):
    # One repetition of three is enough: the means skip it, so it showed as no change.
    # (A NaN or infinite time is bad input: test_impossible_time_is_bad_input.)
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
    base, new = non_finite_pair(tmp_path, train_loss=INF, samples_per_second=NAN)
    assert compare.main([new, base, "--threshold", "5"]) == 0


# ---- times no time can be; counters the run lacks (issue 16, point 5) -------------------

@pytest.mark.parametrize("side", ["baseline", "run"])
@pytest.mark.parametrize("value,shown", [(0.0, "0"), (-5.0, "-5 ns"), (NAN, "NaN"),
                                         (INF, "inf"), (-INF, "-inf")])
def test_impossible_time_is_bad_input(tmp_path, capsys, side, value, shown):
    # Was: -575% "better", or n/a for every time of a NaN or 0 baseline, and exit 0.
    base, new = non_finite_pair(tmp_path, time=value)
    files = [base, new] if side == "run" else [new, base]
    for extra in (["--threshold", "5"], []):
        assert compare.main(files + extra) == 2
        captured = capsys.readouterr()
        assert captured.err == (f"compare: {new}: BM_a: real_time is {shown}: "
                                "a time must be positive and finite\n")
        assert captured.out == ""


def test_errored_rows_zero_times_are_not_impossible(tmp_path):
    errored = row("BM_b", 0.0, error_occurred=True, error_message="CUDA out of memory")
    base = write_doc(tmp_path / "a.json", [row("BM_a", 10.0), row("BM_b", 5.0)])
    new = write_doc(tmp_path / "b.json", [row("BM_a", 10.0), errored])
    assert compare.main([base, new, "--threshold", "5"]) == 1   # errored in the run only


@pytest.mark.parametrize("counters,shown,message", [
    ({}, "missing", "missing from the run"),
    ({"samples_per_second": "fast"}, "not a number", 'not a number in the run ("fast")'),
    ({"samples_per_second": None}, "not a number", "not a number in the run (null)")])
def test_a_gated_counter_the_run_lacks_fails_the_check(tmp_path, capsys, counters, shown,
                                                         message):
    # Was: dropped without a word, exit 0.
    base = write_doc(tmp_path / "a.json", [row("BM_a", 10.0, samples_per_second=100.0,
                                               step_ms=2.0)])
    new = write_doc(tmp_path / "b.json", [row("BM_a", 10.0, **counters)])
    out_json = tmp_path / "cmp.json"
    assert compare.main([base, new, "--threshold", "5", "--json", str(out_json)]) == 1
    captured = capsys.readouterr()
    assert captured.err == ("compare: 1 benchmark(s) failed the check: 1 with a "
                            "higher-is-better counter missing or not a number in the run\n")
    assert re.search(rf"^    samples_per_second \[higher is better\] +100 +{shown} .*REGRESSION$",
                     captured.out, re.M)
    # step_ms (lower is better) is listed, not checked.
    assert re.search(r"^    step_ms \[lower is better\] +2 +missing +n/a +n/a$", captured.out, re.M)
    assert [line for line in captured.out.splitlines() if line.startswith("  BM_a: ")] == \
        [f"  BM_a: samples_per_second is {message}"]
    assert json.loads(out_json.read_text())["regressions"] == [
        {"name": "BM_a", "metric": "samples_per_second", "change_pct": None, "message": message}]
    assert compare.main([base, new]) == 0           # no check asked for


def test_non_finite_and_slower_in_one_benchmark_lists_each_metric_once(tmp_path, capsys):
    base, new = non_finite_pair(tmp_path, time=100.0, train_loss=NAN)
    assert compare.main([base, new, "--threshold", "5"]) == 1
    out = capsys.readouterr().out
    assert "  BM_a: train_loss is NaN in the run, time +300.0%" in out


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


# ---- a benchmark the process was paused in (trainbench's perturbed counter) -------------

@pytest.mark.parametrize("paused_side", ["run", "baseline"])
def test_a_perturbed_benchmark_is_shown_and_not_judged(tmp_path, capsys, paused_side):
    clean = [row("BM_paused", 10.0, samples_per_second=300.0), row("BM_slower", 10.0)]
    # 6 s stopped inside the timed epoch: the time doubles, the throughput halves.
    paused = [row("BM_paused", 20.0, samples_per_second=150.0, perturbed=1, paused_s=6.0),
              row("BM_slower", 20.0)]
    base = write_doc(tmp_path / "base.json", paused if paused_side == "baseline" else clean)
    new = write_doc(tmp_path / "new.json", paused if paused_side == "run" else clean)
    out_json = tmp_path / "cmp.json"
    # BM_slower still fails the check in the direction it got slower; BM_paused never does.
    status = compare.main([base, new, "--threshold", "5", "--json", str(out_json)])
    captured = capsys.readouterr()
    assert status == (1 if paused_side == "run" else 0)
    assert "Not judged, paused while measuring (1):" in captured.out
    side = "baseline" if paused_side == "baseline" else new
    assert f"  BM_paused ({side}: perturbed, paused 1 time(s) for 6.0 s)" in captured.out
    assert re.search(r"^BM_paused .*PERTURBED", captured.out, re.M)
    doc = json.loads(out_json.read_text())
    assert [r["name"] for r in doc["regressions"]] == (["BM_slower"] if paused_side == "run" else [])
    (paused_row,) = [r for r in doc["comparisons"][0]["benchmarks"] if r["name"] == "BM_paused"]
    assert paused_row["perturbed"] == [{"side": paused_side, "pauses": 1, "paused_s": 6.0}]
    assert paused_row["regressions"] == []


def test_a_clean_pair_has_no_not_judged_list(capsys):
    assert compare.main([CPU, CPU, "--threshold", "5"]) == 0
    assert "Not judged" not in capsys.readouterr().out


# ---- the samples inside trainbench's rows: noise and the U-test without repetitions -------

def sampled_row(name, samples_s, **counters):
    mean_s = sum(samples_s) / len(samples_s)
    return row(name, mean_s, unit="s", iterations=len(samples_s),
               label="samples_s=" + ",".join(f"{s:g}" for s in samples_s), **counters)


def test_a_plain_pair_gets_its_u_test_and_each_sides_noise_from_the_row_samples(tmp_path, capsys):
    base = write_doc(tmp_path / "base.json", [sampled_row("BM_e", [1.00, 1.01, 0.99, 1.00, 1.02])])
    new = write_doc(tmp_path / "new.json", [sampled_row("BM_e", [1.20, 1.21, 1.19, 1.22, 1.20])])
    out_json = tmp_path / "cmp.json"
    assert compare.main([base, new, "--threshold", "5", "--json", str(out_json)]) == 1
    (r,) = json.loads(out_json.read_text())["comparisons"][0]["benchmarks"]
    assert r["p_value_from"] == "row samples"
    assert r["p_value"] < 0.05   # 5 vs 5 fully separated: significant without any repetition
    assert r["base"]["noise_samples"] == 5 and r["new"]["noise_samples"] == 5
    assert r["base"]["noise_pct"] == pytest.approx(1.14, abs=0.01)
    assert "1.1% (n=5) / 0.9% (n=5)" in capsys.readouterr().out


def test_the_noise_counters_are_what_compare_reports_and_repetitions_are_the_fallback(tmp_path):
    base = write_doc(tmp_path / "base.json", [sampled_row("BM_e", [1.0, 1.1], noise_pct=7.0, noise_samples=2)])
    report = report_for(base, base)
    (r,) = report["benchmarks"]
    assert (r["base"]["noise_pct"], r["base"]["noise_samples"]) == (7.0, 2)
    assert r["p_value_reason"] == comparison.P_N_TOO_SMALL
    plain = write_doc(tmp_path / "plain.json", [row("BM_e", 10.0)])   # another program's row
    (r,) = report_for(plain, base)["benchmarks"]
    assert r["p_value_from"] == "repetitions" and r["base"]["noise_pct"] is None
