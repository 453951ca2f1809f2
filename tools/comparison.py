"""Comparing Google Benchmark runs: the pure functions under compare.py.

What it does: :func:`get_difference_report` matches the benchmarks of a baseline run and
another run (:func:`match_keys`: names without run settings such as ``iterations:N``, with
the axes a name may lack filled in, optionally paired across one axis) and, for each pair,
the time ratio and change (run over baseline), each shared counter's ratio, change and
better direction, each side's noise (:func:`noise_of`), and the two-sided Mann-Whitney U
p-value of the time samples (:func:`p_value`: the samples inside trainbench's rows where both
sides have them, else the repetitions, :func:`u_test_samples`); it lists benchmarks on one side only and errored ones, and the
geometric mean of the ratios.  :func:`find_regressions` (regressions.py, re-exported here)
marks what a ``--threshold`` or ``--fail-on-missing`` check fails on; a time no time can be
(zero, negative, NaN, infinite) is bad input (:func:`impossible_time`, through
:func:`compare_runs`); :func:`context_differences` is the run context that
differs; :func:`json_document` the ``--json`` output.  Times are seconds (per iteration),
changes percent.  Text formatting is comparison_text.py's, the command line compare.py's.

What it deliberately doesn't do: no printing, no exit statuses, no file I/O.
"""

from __future__ import annotations

import json
import math
import re
from typing import Optional

import declarations
import gbench
from regressions import (COUNTER_MISSING, COUNTER_NOT_A_NUMBER,  # noqa: F401 (re-exported)
                         check_reports, find_regressions, is_worse, row_regressions)


def calculate_ratio(old: Optional[float], new: Optional[float]) -> Optional[float]:
    """new / old; 1.0 when both are 0; None when undefined (old 0, missing, non-finite)."""
    if old is None or new is None or not (math.isfinite(old) and math.isfinite(new)):
        return None
    if old == 0:
        return 1.0 if new == 0 else None
    return new / old


def calculate_change(old: Optional[float], new: Optional[float]) -> Optional[float]:
    """Relative change in percent, (new - old) / |old| * 100; None when undefined."""
    if old is None or new is None or not (math.isfinite(old) and math.isfinite(new)):
        return None
    if old == 0:
        return 0.0 if new == 0 else None
    return (new - old) / abs(old) * 100.0


# Significance level the "n too small" check is about.
ALPHA = 0.05
P_FEW_SAMPLES = "fewer than 2 samples on a side"
P_N_TOO_SMALL = "n too small"
P_NOT_COMPUTABLE = "not computable"


def min_two_sided_p(n1: int, n2: int) -> float:
    """Smallest two-sided exact Mann-Whitney U p-value for sample sizes n1, n2.

    Complete separation is the most extreme outcome: 2 / C(n1 + n2, n1)
    (capped at 1).  2 vs 2 gives 0.333, 3 vs 3 gives 0.1, 4 vs 4 gives 0.029.
    """
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def p_value(old: list, new: list) -> tuple:
    """(p-value, None) or (None, reason) for two lists of time samples.

    The reason is "fewer than 2 samples on a side" (shown as n/a), "n too
    small" when even complete separation could not reach p < ALPHA with
    these sample sizes, or "not computable".
    """
    if len(old) < 2 or len(new) < 2:
        return None, P_FEW_SAMPLES
    if min_two_sided_p(len(old), len(new)) >= ALPHA:
        return None, P_N_TOO_SMALL
    p = mann_whitney_p(old, new)
    return (p, None) if p is not None else (None, P_NOT_COMPUTABLE)


def mann_whitney_p(old: list, new: list) -> Optional[float]:
    """Two-sided Mann-Whitney U p-value, or None unless both sides have >= 2 samples."""
    if len(old) < 2 or len(new) < 2:
        return None
    from scipy.stats import mannwhitneyu
    result = mannwhitneyu(old, new, alternative="two-sided")
    p = float(result.pvalue)
    return p if math.isfinite(p) else None


def verdict(change_pct: Optional[float], direction: str) -> str:
    """'better', 'worse' or '' (neutral, undefined, or under 0.05% which prints as 0.0%)."""
    if (change_pct is None or abs(change_pct) < 0.05
            or direction == gbench.NEUTRAL_DIRECTION):
        return ""
    improved = change_pct < 0 if direction == gbench.LOWER else change_pct > 0
    return "better" if improved else "worse"


def noise_of(bench: gbench.Benchmark) -> tuple:
    """(noise_pct, its sample count) of one side: trainbench's noise_pct and noise_samples
    counters (means over repetitions), else computed from the samples in its rows, else from
    its repetitions; (None, 0) with fewer than 2 samples."""
    if bench.counter("noise_pct") is not None and bench.counter("noise_samples"):
        return bench.counter("noise_pct"), int(sum(bench.counters["noise_samples"]))
    samples = bench.samples_s if len(bench.samples_s) >= 2 else bench.times_s
    if len(samples) < 2:
        return None, 0
    m = sum(samples) / len(samples)
    sd = math.sqrt(sum((x - m) ** 2 for x in samples) / (len(samples) - 1))
    return (100.0 * sd / m if m else None), len(samples)


def u_test_samples(old: gbench.Benchmark, new: gbench.Benchmark) -> tuple:
    """(old samples, new samples, where from) for the U-test: the timed samples inside the rows
    (trainbench's per-epoch or per-iteration times, "row samples") when both sides have at
    least 2, else one sample per row ("repetitions")."""
    if len(old.samples_s) >= 2 and len(new.samples_s) >= 2:
        return old.samples_s, new.samples_s, "row samples"
    return old.times_s, new.times_s, "repetitions"


def side_summary(bench: gbench.Benchmark) -> dict:
    """JSON-friendly summary of one side of a comparison."""
    noise_pct, noise_samples = noise_of(bench)
    return {"time_s": bench.time_s, "samples": len(bench.times_s),
            "source": bench.source, "times_s": list(bench.times_s),
            "row_samples_s": list(bench.samples_s),
            "noise_pct": noise_pct, "noise_samples": noise_samples}


def settings_note(old_name: str, new_name: str) -> str:
    """'iterations 2->3' style note for run settings that differ between two names.

    Settings are the segments ``gbench.match_key`` drops; one missing from a
    name shows as '-'.  Empty when they are the same.
    """
    old, new = gbench.run_settings(old_name), gbench.run_settings(new_name)
    return ", ".join(f"{key} {old.get(key, '-')}->{new.get(key, '-')}"
                     for key in list(old) + [k for k in new if k not in old]
                     if old.get(key) != new.get(key))


def across_values(old: gbench.Benchmark, new: gbench.Benchmark,
                  across: Optional[str]) -> Optional[dict]:
    """{"axis", "base", "new"}: the values of the ``--across`` axis on each side of a pair
    (a name without it has the value its absence means, ``Benchmark.axis``), or None
    without ``--across``."""
    if across is None:
        return None
    return {"axis": across, "base": old.axis(across), "new": new.axis(across)}


def non_finite_value(values: list) -> Optional[str]:
    """'NaN', 'inf' or '-inf' for the first non-finite sample in ``values``, else None."""
    for value in values:
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return None


def non_finite_metrics(bench: gbench.Benchmark) -> list:
    """[{"metric", "value"}] for the time and each counter with a NaN or infinite sample.

    ``Benchmark.time_s`` and ``counter()`` average the finite samples only,
    so this is where such samples are seen.
    """
    found = []
    for metric, values in [("time", bench.times_s)] + list(bench.counters.items()):
        value = non_finite_value(values)
        if value is not None:
            found.append({"metric": metric, "value": value})
    return found


def missing_counters(old: gbench.Benchmark, new: gbench.Benchmark, direction, unit) -> list:
    """[{"name", "direction", "base", "message"} (and "unit" where declared)] for each
    counter of the baseline's benchmark that the run's lacks or has as something other
    than a number (a string, null: ``Benchmark.not_numbers``)."""
    found = []
    for name in old.counters:
        if name in new.counters:
            continue
        message = COUNTER_MISSING
        if name in new.not_numbers:
            message = f"{COUNTER_NOT_A_NUMBER} ({json.dumps(new.not_numbers[name])})"
        declared_unit = unit(name)
        found.append({"name": name, "direction": direction(name),
                      **({"unit": declared_unit} if declared_unit else {}),
                      "base": old.counter(name), "message": message})
    return found


def impossible_time(path: str, benches: dict) -> Optional[str]:
    """'<path>: <benchmark>: real_time is <value>: ...' for the first time sample of
    ``benches`` (a run's Benchmarks, as compared) that no time can be: zero, negative, NaN or
    infinite (a ratio of it, or a change, means nothing); None when all are positive and
    finite.  Errored benchmarks have no samples, so their zeros are not looked at."""
    for bench in benches.values():
        for seconds in bench.times_s:
            if not (math.isfinite(seconds) and seconds > 0):
                shown = non_finite_value([seconds]) or (
                    "0" if seconds == 0 else gbench.format_seconds(seconds))
                return (f"{path}: {bench.name}: real_time is {shown}: "
                        "a time must be positive and finite")
    return None


def perturbed_sides(old: gbench.Benchmark, new: gbench.Benchmark) -> list:
    """[{"side": "baseline" or "run", "pauses", "paused_s"}] for each side trainbench saw
    paused while the benchmark ran (``Benchmark.perturbation``); such a pair is shown, not
    judged."""
    return [{"side": side, **p} for side, bench in (("baseline", old), ("run", new))
            if (p := bench.perturbation()) is not None]


def compare_benchmark(old: gbench.Benchmark, new: gbench.Benchmark,
                      across: Optional[str] = None,
                      direction=declarations.counter_direction,
                      unit=lambda _name: None) -> dict:
    """Compare one benchmark present (and not errored) on both sides (paired across
    ``across``, an axis, when given); ``direction(counter name)`` is each counter's better
    direction ("higher", "lower" or "neutral"), ``unit(counter name)`` its declared unit
    or None (then the entry has no "unit").  A baseline counter the run lacks (or has as no
    number) is in "missing_in_run" (:func:`missing_counters`)."""
    counters = []
    for name in old.counters:
        if name not in new.counters:
            continue
        base_value, new_value = old.counter(name), new.counter(name)
        declared_unit = unit(name)
        counters.append({
            "name": name,
            "direction": direction(name),
            **({"unit": declared_unit} if declared_unit else {}),
            "base": base_value,
            "new": new_value,
            "ratio": calculate_ratio(base_value, new_value),
            "change_pct": calculate_change(base_value, new_value),
        })
    old_samples, new_samples, samples_from = u_test_samples(old, new)
    p, reason = p_value(old_samples, new_samples)
    return {
        "name": old.name,
        "run_name": new.name,
        "settings_note": settings_note(old.name, new.name),
        "base": side_summary(old),
        "new": side_summary(new),
        "time_ratio": calculate_ratio(old.time_s, new.time_s),
        "time_change_pct": calculate_change(old.time_s, new.time_s),
        "p_value": p,
        "p_value_reason": reason,
        "p_value_from": samples_from,
        "counters": counters,
        "missing_in_run": missing_counters(old, new, direction, unit),
        "non_finite_in_run": non_finite_metrics(new),
        "perturbed": perturbed_sides(old, new),
        "regressions": [],
    } | ({"across": across_values(old, new, across)} if across is not None else {})


def geomean_row(rows: list) -> dict:
    """Geometric mean of the time ratios and of each counter's ratios (with the direction
    the first row that has the counter gives it)."""
    counter_ratios: dict = {}
    directions: dict = {}
    for row in rows:
        for counter in row["counters"]:
            counter_ratios.setdefault(counter["name"], []).append(counter["ratio"])
            directions.setdefault(counter["name"], counter["direction"])
    return {
        "benchmarks": len(rows),
        "time_ratio": gbench.geomean(r["time_ratio"] for r in rows),
        "counters": {name: {"ratio": gbench.geomean(ratios), "direction": directions[name]}
                     for name, ratios in counter_ratios.items()},
    }


def match_keys(*name_lists, across: Optional[str] = None, added: Optional[list] = None) -> list:
    """For each list of run names, a dict name -> key used to match them.

    The key is ``gbench.match_key(name, across, added_axes)`` (without the ``across``
    axis, when given; ``added`` holds each list's added axes, default
    ``declarations.FALLBACK_ADDED_AXES``), except where two names of one list share a
    key. Then the one name that spells out more of its family's added axes than the others
    (``gbench.filled_axes``) keeps it: a GPU run's ``.../ranks:1`` row, beside
    the plain row whose name lacks ``ranks``; the others of that list are matched
    by their full names. Where no one name stands out, every name with that key
    (in every list) is matched by its full name instead.
    """
    added = added or [declarations.FALLBACK_ADDED_AXES] * len(name_lists)
    keyed = [{name: gbench.match_key(name, across, table) for name in names}
             for names, table in zip(name_lists, added)]
    unresolved = set()  # keys two names of one list share, none of them standing out
    losers = set()      # (list index, name): names that lost a shared key to another
    for index, keys in enumerate(keyed):
        sharing: dict = {}
        for name, key in keys.items():
            sharing.setdefault(key, []).append(name)
        for key, names in sharing.items():
            if len(names) < 2:
                continue
            fewest = min(gbench.filled_axes(n, added[index]) for n in names)
            explicit = [n for n in names if gbench.filled_axes(n, added[index]) == fewest]
            keeper = explicit[0] if len(explicit) == 1 else None
            if keeper is None:
                unresolved.add(key)
            losers.update((index, n) for n in names if n != keeper)
    return [{name: name if key in unresolved or (index, name) in losers else key
             for name, key in keys.items()}
            for index, keys in enumerate(keyed)]


def side_problems(old: Optional[gbench.Benchmark], new: Optional[gbench.Benchmark]) -> list:
    """[{"side", "message"}] for each side of a pair that errored or has no sample."""
    problems = []
    for side, bench in (("baseline", old), ("run", new)):
        if bench is None:
            continue
        if bench.error is not None:
            problems.append({"side": side, "message": bench.error})
        elif bench.source == "none":
            problems.append({"side": side, "message": "no iteration, mean or median row"})
    return problems


def errored_entry(old: Optional[gbench.Benchmark], new: Optional[gbench.Benchmark],
                  problems: list, across: Optional[str]) -> dict:
    """The report's entry for a benchmark not compared because a side errored."""
    both = old is not None and new is not None
    return {
        "name": old.name if old is not None else new.name,
        "run_name": new.name if new is not None else None,
        "in_baseline": old is not None,
        "settings_note": settings_note(old.name, new.name) if both else "",
        "problems": problems,
    } | ({"across": across_values(old, new, across)} if across is not None and both else {})


def benchmarks_by_key(baseline: gbench.Run, run: gbench.Run,
                      name_filter: Optional[re.Pattern], across: Optional[str]) -> tuple:
    """({key: baseline Benchmark}, {key: run Benchmark}): both runs' benchmarks read with the
    axes either declares a name may lack (``declarations.merged_added_axes``, the run's
    first), keyed by :func:`match_keys` over the whole files, then filtered by
    ``name_filter`` on each side's full run names."""
    added = declarations.merged_added_axes(run.context, baseline.context)
    sides = [declarations.collect_benchmarks(r, added) for r in (baseline, run)]
    keys = match_keys(*[list(b) for b in sides], across=across, added=[added, added])
    return tuple({k[name]: bench for name, bench in b.items()
                  if name_filter is None or name_filter.search(name)}
                 for b, k in zip(sides, keys))


def get_difference_report(baseline: gbench.Run, run: gbench.Run,
                          name_filter: Optional[re.Pattern] = None,
                          across: Optional[str] = None) -> dict:
    """Compare ``run`` against ``baseline``: matched rows, one-sided names, errors, geomean.

    Benchmarks are matched with :func:`match_keys` (computed over the whole
    files; names that differ only in the ``across`` axis match when it is
    given); ``name_filter`` is then applied to each side's full run names.
    A counter's direction and unit are those the run's context declares, else the
    baseline's, else ``declarations``' fallback for older files.
    """
    old_by_key, new_by_key = benchmarks_by_key(baseline, run, name_filter, across)
    impossible = (impossible_time(baseline.path, old_by_key)
                  or impossible_time(run.path, new_by_key))
    contexts = (run.context, baseline.context)   # the run's declaration first
    direction = lambda name: declarations.counter_direction(name, *contexts)  # noqa: E731
    unit = lambda name: declarations.counter_unit(name, *contexts)  # noqa: E731
    errored, rows = [], []
    for key in list(old_by_key) + [k for k in new_by_key if k not in old_by_key]:
        old, new = old_by_key.get(key), new_by_key.get(key)
        problems = side_problems(old, new)
        if problems:
            errored.append(errored_entry(old, new, problems, across) | {"key": key})
        elif old is not None and new is not None:
            rows.append(compare_benchmark(old, new, across, direction, unit))
    errored_keys = {e.pop("key") for e in errored}
    return {
        "baseline": {"path": baseline.path, "label": baseline.label},
        "run": {"path": run.path, "label": run.label},
        "benchmarks": rows,
        "geomean": geomean_row(rows),
        "only_in_baseline": [b.name for k, b in old_by_key.items()
                             if k not in new_by_key and k not in errored_keys],
        "only_in_run": [b.name for k, b in new_by_key.items()
                        if k not in old_by_key and k not in errored_keys],
        "errored": errored,
        "in_common": sum(1 for k in old_by_key if k in new_by_key),
        "regressions": [],
    } | ({"across": across} if across is not None else {}) | (
        {"impossible_time": impossible} if impossible else {})


def compare_runs(runs: list, name_filter: Optional[re.Pattern] = None,
                 across: Optional[str] = None) -> tuple:
    """(difference reports, problem): each run after the first against the first.  The
    problem (None when there is none) names the first time no time can be
    (:func:`impossible_time`, in the baseline or a run), else the first run with no benchmark
    in common with the baseline (matching ``name_filter``, when given): neither can be
    compared."""
    reports = []
    for run in runs[1:]:
        report = get_difference_report(runs[0], run, name_filter, across)
        if problem := report.pop("impossible_time", None):
            return reports, problem
        if report["in_common"] == 0:
            extra = f" matching --filter {name_filter.pattern!r}" if name_filter else ""
            return reports, (f"{run.path}: no benchmark{extra} in common with "
                             f"baseline {runs[0].path}")
        reports.append(report)
    return reports, None


def context_differences(runs: list) -> list:
    """Context fields whose values differ between runs: [(key, label, [values])].

    A field missing from a run counts as the value None.
    """
    diffs = []
    for key, label, compared in declarations.CONTEXT_FIELDS:
        if not compared:
            continue
        values = [run.context.get(key) for run in runs]
        if all(v is None for v in values):
            continue
        if len({json.dumps(v, sort_keys=True) for v in values}) > 1:
            diffs.append((key, label, values))
    return diffs


def json_safe(value):
    """Copy of ``value`` with NaN/Infinity floats replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def json_document(runs: list, reports: list, regressions: list, diffs: list,
                  threshold_pct: Optional[float], fail_on_missing: bool,
                  across: Optional[str]) -> dict:
    """The ``--json`` output: the files, the check asked for, the context that differs, each
    difference report and every regression (NaN/inf still in it: see :func:`json_safe`)."""
    return {
        "baseline": runs[0].path,
        "runs": [r.path for r in runs[1:]],
        "threshold_pct": threshold_pct,
        "fail_on_missing": fail_on_missing,
        **({"across": across} if across is not None else {}),
        "context_differences": [{"key": k, "label": label, "values": v}
                                for k, label, v in diffs],
        "comparisons": reports,
        "regressions": regressions,
    }


def axes_of(runs: list) -> set:
    """The axes (``key:value`` segments of the names, run settings excluded) the runs'
    benchmarks have, with those a name may lack and still mean
    (``declarations.merged_added_axes``)."""
    found = set()
    added = declarations.merged_added_axes(*[run.context for run in runs])
    for run in runs:
        for row in run.rows:
            name = gbench.base_name(row)
            parsed = gbench.parse_name(name)
            found.update(key for key in parsed.axes if f"/{key}:" in name)
            found.update(added.get(parsed.family, {}))
    return found


def across_problem(axis: str, runs: list) -> Optional[str]:
    """Why ``--across AXIS`` cannot pair these runs (no benchmark has that axis), or None."""
    known = axes_of(runs)
    if axis in known:
        return None
    files = ", ".join(run.path for run in runs)
    have = f" (the axes there: {', '.join(sorted(known))})" if known else " (they have no axes)"
    return f"--across {axis!r}: no benchmark in {files} has a {axis!r} axis{have}"
