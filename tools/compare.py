#!/usr/bin/env python3
"""Compare two or more Google Benchmark JSON runs (machines, GPUs, commits).

A baseline (the first file) against each later one: time and counter ratios with their
better/worse direction, Mann-Whitney p-values, the context fields that differ, benchmarks on
one side only, a regression exit status (``--threshold``, ``--fail-on-missing``) and
``--json`` output; with ``--across AXIS`` the benchmarks paired are those whose names differ
only in that axis (a single-process run against one of 8 ranks: ``--across ranks``).
tools/README.md describes the matching, the statistics, the exit
statuses and the flags; ``python3 tools/compare.py --help`` lists the flags.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cli  # noqa: E402
import declarations  # noqa: E402
import gbench  # noqa: E402

PROG = "compare"

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


def is_worse(change_pct: Optional[float], direction: str, threshold_pct: float) -> bool:
    """True when a change is a regression beyond ``threshold_pct``.

    ``direction`` is the better direction ("lower" for time, "higher" for
    throughput-like counters); neutral metrics are never worse.
    """
    if change_pct is None:
        return False
    if direction == gbench.LOWER:
        return change_pct > threshold_pct
    if direction == gbench.HIGHER:
        return change_pct < -threshold_pct
    return False


def verdict(change_pct: Optional[float], direction: str) -> str:
    """'better', 'worse' or '' (neutral, undefined, or under 0.05% which prints as 0.0%)."""
    if (change_pct is None or abs(change_pct) < 0.05
            or direction == gbench.NEUTRAL_DIRECTION):
        return ""
    improved = change_pct < 0 if direction == gbench.LOWER else change_pct > 0
    return "better" if improved else "worse"


def side_summary(bench: gbench.Benchmark) -> dict:
    """JSON-friendly summary of one side of a comparison."""
    return {"time_s": bench.time_s, "samples": len(bench.times_s),
            "source": bench.source, "times_s": list(bench.times_s)}


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


def pair_note(settings: str, across: Optional[dict]) -> str:
    """The note of a pair: the settings note, then 'ranks 1->8' when the --across axis
    differs."""
    notes = [settings] if settings else []
    if across and across["base"] != across["new"]:
        notes.append(f"{across['axis']} {across['base'] or '-'}->{across['new'] or '-'}")
    return ", ".join(notes)


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


def compare_benchmark(old: gbench.Benchmark, new: gbench.Benchmark,
                      across: Optional[str] = None) -> dict:
    """Compare one benchmark present (and not errored) on both sides (paired across
    ``across``, an axis, when given)."""
    counters = []
    for name in old.counters:
        if name not in new.counters:
            continue
        base_value, new_value = old.counter(name), new.counter(name)
        counters.append({
            "name": name,
            "direction": declarations.counter_direction(name),
            "base": base_value,
            "new": new_value,
            "ratio": calculate_ratio(base_value, new_value),
            "change_pct": calculate_change(base_value, new_value),
        })
    p, reason = p_value(old.times_s, new.times_s)
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
        "counters": counters,
        "non_finite_in_run": non_finite_metrics(new),
        "regressions": [],
    } | ({"across": across_values(old, new, across)} if across is not None else {})


def geomean_row(rows: list) -> dict:
    """Geometric mean of the time ratios and of each counter's ratios."""
    counter_ratios: dict = {}
    for row in rows:
        for counter in row["counters"]:
            counter_ratios.setdefault(counter["name"], []).append(counter["ratio"])
    return {
        "benchmarks": len(rows),
        "time_ratio": gbench.geomean(r["time_ratio"] for r in rows),
        "counters": {name: {"ratio": gbench.geomean(ratios),
                            "direction": declarations.counter_direction(name)}
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


def get_difference_report(baseline: gbench.Run, run: gbench.Run,
                          name_filter: Optional[re.Pattern] = None,
                          across: Optional[str] = None) -> dict:
    """Compare ``run`` against ``baseline``: matched rows, one-sided names, errors, geomean.

    Benchmarks are matched with :func:`match_keys` (computed over the whole
    files; names that differ only in the ``across`` axis match when it is
    given); ``name_filter`` is then applied to each side's full run names.
    """
    old_all = declarations.collect_benchmarks(baseline)
    new_all = declarations.collect_benchmarks(run)
    old_keys, new_keys = match_keys(list(old_all), list(new_all), across=across,
                                    added=[declarations.added_axes(r.context)
                                           for r in (baseline, run)])
    if name_filter is not None:
        old_all = {k: v for k, v in old_all.items() if name_filter.search(k)}
        new_all = {k: v for k, v in new_all.items() if name_filter.search(k)}
    old_by_key = {old_keys[name]: bench for name, bench in old_all.items()}
    new_by_key = {new_keys[name]: bench for name, bench in new_all.items()}
    errored, rows = [], []
    errored_keys = set()
    for key in list(old_by_key) + [k for k in new_by_key if k not in old_by_key]:
        old, new = old_by_key.get(key), new_by_key.get(key)
        problems = []
        for side, bench in (("baseline", old), ("run", new)):
            if bench is None:
                continue
            if bench.error is not None:
                problems.append({"side": side, "message": bench.error})
            elif bench.source == "none":
                problems.append({"side": side,
                                 "message": "no iteration, mean or median row"})
        if problems:
            errored_keys.add(key)
            errored.append({
                "name": old.name if old is not None else new.name,
                "run_name": new.name if new is not None else None,
                "in_baseline": old is not None,
                "settings_note": (settings_note(old.name, new.name)
                                  if old is not None and new is not None else ""),
                "problems": problems}
                | ({"across": across_values(old, new, across)}
                   if across is not None and old is not None and new is not None else {}))
        elif old is not None and new is not None:
            rows.append(compare_benchmark(old, new, across))
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
    } | ({"across": across} if across is not None else {})


def find_regressions(report: dict, threshold_pct: Optional[float] = None,
                     fail_on_missing: bool = False) -> list:
    """Mark and return the regressions in a difference report.

    With ``threshold_pct``, time (lower is better) and higher-is-better
    counters that got worse by more than ``threshold_pct`` percent, and the
    time or any counter with a NaN or infinite sample in the run (change_pct
    None, message "NaN in the run"); each benchmark row's ``regressions``
    list is filled with those metric names.
    Always (this runs for --threshold or --fail-on-missing), a benchmark
    that errored in the run but not in the baseline (metric "error").  With
    ``fail_on_missing``, every benchmark only in the baseline (metric
    "missing").  Returns a list of {"name", "metric", "change_pct",
    "message"} (change_pct None and a message for "error" and "missing").
    """
    found = []
    for row in report["benchmarks"]:
        row["regressions"] = []
        if threshold_pct is None:
            continue
        non_finite = {entry["metric"]: entry["value"]
                      for entry in row.get("non_finite_in_run", [])}
        for metric, value in non_finite.items():
            row["regressions"].append(metric)
            found.append({"name": row["name"], "metric": metric, "change_pct": None,
                          "message": f"{value} in the run"})
        metrics = [("time", gbench.LOWER, row["time_change_pct"])]
        metrics += [(c["name"], c["direction"], c["change_pct"])
                    for c in row["counters"] if c["direction"] == gbench.HIGHER]
        for metric, direction, change in metrics:
            if metric not in non_finite and is_worse(change, direction, threshold_pct):
                row["regressions"].append(metric)
                found.append({"name": row["name"], "metric": metric,
                              "change_pct": change, "message": None})
    for entry in report["errored"]:
        sides = [p["side"] for p in entry["problems"]]
        if entry["in_baseline"] and "run" in sides and "baseline" not in sides:
            message = next(p["message"] for p in entry["problems"] if p["side"] == "run")
            found.append({"name": entry["name"], "metric": "error", "change_pct": None,
                          "message": message})
    if fail_on_missing:
        found += [{"name": name, "metric": "missing", "change_pct": None,
                   "message": "not in the run"} for name in report["only_in_baseline"]]
    return found


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


def _fmt_value(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fmt_change(change: Optional[float]) -> str:
    if change is None:
        return "n/a"
    rounded = round(change, 1)
    return f"{rounded if rounded != 0 else 0.0:+.1f}%"


def _fmt_ratio(ratio: Optional[float]) -> str:
    return "n/a" if ratio is None else f"{ratio:.3f}"


def _table(rows: list, indent: str = "") -> list:
    """Left-align a list of string tuples into lines."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip()
            for r in rows]


def format_context(runs: list, diffs: list) -> str:
    """Text block naming the runs and the context fields that differ."""
    lines = [f"Baseline: {runs[0].path} ({runs[0].label})"]
    for number, run in enumerate(runs[1:], start=1):
        lines.append(f"Run {number}:    {run.path} ({run.label})")
    if not diffs:
        lines.append("Context: no difference in GPU, driver, CUDA, cuDNN, "
                     "LibTorch, CPUs, MHz, threads or host")
        return "\n".join(lines)
    lines.append("Context that differs:")
    header = ("field",) + tuple(run.stem for run in runs)
    body = [(label,) + tuple("-" if v is None else str(v) for v in values)
            for _, label, values in diffs]
    lines += _table([header] + body, indent="  ")
    return "\n".join(lines)


def _fmt_p(row: dict) -> str:
    """p-value cell: the value, 'n too small', or 'n/a'."""
    if row["p_value"] is not None:
        return f"{row['p_value']:.4f}"
    return P_N_TOO_SMALL if row.get("p_value_reason") == P_N_TOO_SMALL else "n/a"


def describe_regression(found: dict, changes: dict) -> str:
    """One metric of the regression list: 'time +30.0%', 'errored in the run ...'."""
    if found["metric"] == "error":
        return f"errored in the run but not in the baseline ({found['message']})"
    if found["metric"] == "missing":
        return "missing from the run (only in the baseline)"
    if found["change_pct"] is None and found["message"]:
        return f"{found['metric']} is {found['message']}"
    return f"{found['metric']} {_fmt_change(changes.get(found['metric']))}"


def format_report(report: dict, threshold_pct: Optional[float] = None,
                  checked: Optional[bool] = None) -> str:
    """Human-readable text for one difference report.

    The regression list is printed when ``checked`` (default: when
    ``threshold_pct`` is given), from ``report["regressions"]``.
    """
    if checked is None:
        checked = threshold_pct is not None
    base, run = report["baseline"], report["run"]
    lines = [f"== {run['path']} ({run['label']}) vs baseline "
             f"{base['path']} ({base['label']}) =="]
    if report.get("across"):
        lines.append(f"Paired across {report['across']}: names that differ only in "
                     f"{report['across']} are compared; Ratio is the run over the baseline.")
    table = [("Benchmark", "Baseline", "New", "Ratio", "Change", "p-value", "", "")]
    for row in report["benchmarks"]:
        mark = verdict(row["time_change_pct"], gbench.LOWER)
        if "time" in row["regressions"]:
            mark = "REGRESSION"
        table.append((row["name"], gbench.format_seconds(row["base"]["time_s"]),
                      gbench.format_seconds(row["new"]["time_s"]),
                      _fmt_ratio(row["time_ratio"]), _fmt_change(row["time_change_pct"]),
                      _fmt_p(row), mark,
                      pair_note(row.get("settings_note", ""), row.get("across"))))
        for c in row["counters"]:
            mark = verdict(c["change_pct"], c["direction"])
            if c["name"] in row["regressions"]:
                mark = "REGRESSION"
            table.append((f"    {c['name']} [{c['direction']} is better]"
                          if c["direction"] != gbench.NEUTRAL_DIRECTION
                          else f"    {c['name']} [neutral]",
                          _fmt_value(c["base"]), _fmt_value(c["new"]),
                          _fmt_ratio(c["ratio"]), _fmt_change(c["change_pct"]), "", mark,
                          ""))
    geo = report["geomean"]
    plural = "" if geo["benchmarks"] == 1 else "s"
    table.append((f"geomean ({geo['benchmarks']} benchmark{plural}, time)", "", "",
                  _fmt_ratio(geo["time_ratio"]), "", "", "", ""))
    for name, info in geo["counters"].items():
        table.append((f"    {name} [{info['direction']}]", "", "",
                      _fmt_ratio(info["ratio"]), "", "", "", ""))
    lines += _table(table)
    if report["only_in_baseline"]:
        lines.append(f"Only in baseline ({len(report['only_in_baseline'])}):")
        lines += [f"  {n}" for n in report["only_in_baseline"]]
    if report["only_in_run"]:
        lines.append(f"Only in {run['path']} ({len(report['only_in_run'])}):")
        lines += [f"  {n}" for n in report["only_in_run"]]
    if report["errored"]:
        lines.append(f"Errored, not compared ({len(report['errored'])}):")
        for e in report["errored"]:
            where = "; ".join(
                f"{'baseline' if p['side'] == 'baseline' else run['path']}: {p['message']}"
                for p in e["problems"])
            note = pair_note(e.get("settings_note", ""), e.get("across"))
            note = f" [{note}]" if note else ""
            lines.append(f"  {e['name']}{note} ({where})")
    if checked:
        found = report.get("regressions", [])
        by_name: dict = {}
        for item in found:
            by_name.setdefault(item["name"], []).append(item)
        beyond = f" beyond {threshold_pct:g}%" if threshold_pct is not None else ""
        lines.append(f"Regressions{beyond}: {len(by_name)} benchmark(s)")
        rows = {r["name"]: r for r in report["benchmarks"]}
        for name, items in by_name.items():
            changes = {}
            if name in rows:
                changes = {"time": rows[name]["time_change_pct"]}
                changes.update({c["name"]: c["change_pct"] for c in rows[name]["counters"]})
            detail = ", ".join(describe_regression(item, changes) for item in items)
            lines.append(f"  {name}: {detail}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        prog="compare.py",
        description="Compare Google Benchmark JSON runs; the first file is the baseline.")
    parser.add_argument("files", nargs="+", metavar="RUN.json",
                        help="baseline run followed by one or more runs to compare")
    parser.add_argument("--filter", metavar="REGEX",
                        help="only benchmarks whose run name matches (re.search)")
    parser.add_argument("--threshold", metavar="PCT",
                        help="exit 1 when time grew, or a higher-is-better counter "
                             "fell, by more than PCT percent (a finite number >= 0), "
                             "a time or counter is NaN or infinite in the run, "
                             "or a benchmark errored in the run but not in the baseline")
    parser.add_argument("--fail-on-missing", action="store_true",
                        help="exit 1 also when a baseline benchmark is missing from "
                             "the run (or errored in it but not in the baseline)")
    parser.add_argument("--across", metavar="AXIS",
                        help="pair benchmarks whose names differ only in the axis AXIS "
                             "(--across ranks: a single-process run, which has no ranks "
                             "axis and means ranks:1, against a run of several ranks)")
    parser.add_argument("--json", metavar="FILE", dest="json_out",
                        help="also write the comparison as JSON to FILE")
    return parser


def axes_of(runs: list) -> set:
    """The axes (``key:value`` segments of the names, run settings excluded) the runs'
    benchmarks have, with those a name may lack and still mean (``declarations.added_axes``)."""
    found = set()
    for run in runs:
        added = declarations.added_axes(run.context)
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


def parse_threshold(text: Optional[str]) -> tuple:
    """(threshold or None, problem or None) for the --threshold value."""
    if text is None:
        return None, None
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        return None, f"invalid --threshold {text!r}: must be a finite number >= 0 (percent)"
    return value, None


def summary_line(regressions: list, threshold_pct: Optional[float]) -> str:
    """The stderr line for exit status 1: how many benchmarks failed, and why."""
    kinds: dict = {}
    for item in regressions:
        if item["metric"] in ("error", "missing"):
            kind = item["metric"]
        elif item["change_pct"] is None:
            kind = "non_finite"
        else:
            kind = "worse"
        kinds.setdefault(kind, set()).add(item["name"])
    names = {item["name"] for item in regressions}
    parts = []
    if "worse" in kinds:
        parts.append(f"{len(kinds['worse'])} regressed beyond {threshold_pct:g}%")
    if "non_finite" in kinds:
        parts.append(f"{len(kinds['non_finite'])} with a NaN or infinite value in the run")
    if "error" in kinds:
        parts.append(f"{len(kinds['error'])} errored in the run but not in the baseline")
    if "missing" in kinds:
        parts.append(f"{len(kinds['missing'])} missing from the run")
    return f"{PROG}: {len(names)} benchmark(s) failed the check: {'; '.join(parts)}"


def main(argv=None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 regression, 2 bad input)."""
    args = build_parser().parse_args(argv)
    if len(args.files) < 2:
        print(f"{PROG}: need at least two JSON files (baseline and a run to compare)",
              file=sys.stderr)
        return 2
    threshold, problem = parse_threshold(args.threshold)
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    name_filter = None
    if args.filter is not None:
        try:
            name_filter = re.compile(args.filter)
        except re.error as err:
            print(f"{PROG}: invalid --filter regex {args.filter!r}: {err}", file=sys.stderr)
            return 2
    runs = cli.load_runs_for_cli(PROG, args.files)
    if runs is None:
        return 2
    if args.across is not None:
        problem = across_problem(args.across, runs)
        if problem:
            print(f"{PROG}: {problem}", file=sys.stderr)
            return 2
    reports = []
    for run in runs[1:]:
        report = get_difference_report(runs[0], run, name_filter, args.across)
        if report["in_common"] == 0:
            extra = f" matching --filter {args.filter!r}" if args.filter else ""
            print(f"{PROG}: {run.path}: no benchmark{extra} in common with "
                  f"baseline {runs[0].path}", file=sys.stderr)
            return 2
        reports.append(report)
    checked = threshold is not None or args.fail_on_missing
    regressions = []
    if checked:
        for report in reports:
            found = find_regressions(report, threshold, args.fail_on_missing)
            report["regressions"] = found
            regressions += found
    diffs = context_differences(runs)
    out = [format_context(runs, diffs)]
    out += [format_report(r, threshold, checked) for r in reports]
    try:
        print("\n\n".join(out))
        sys.stdout.flush()
    except BrokenPipeError:
        cli.quiet_broken_pipe()
    if args.json_out:
        document = {
            "baseline": runs[0].path,
            "runs": [r.path for r in runs[1:]],
            "threshold_pct": threshold,
            "fail_on_missing": args.fail_on_missing,
            **({"across": args.across} if args.across is not None else {}),
            "context_differences": [{"key": k, "label": label, "values": v}
                                    for k, label, v in diffs],
            "comparisons": reports,
            "regressions": regressions,
        }
        try:
            with open(args.json_out, "w", encoding="utf-8") as handle:
                json.dump(json_safe(document), handle, indent=2,
                          allow_nan=False, default=str)
                handle.write("\n")
        except (OSError, ValueError) as err:
            print(f"{PROG}: {args.json_out}: cannot write JSON: {err}", file=sys.stderr)
            return 2
    if regressions:
        print(summary_line(regressions, threshold), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
