#!/usr/bin/env python3
"""Compare two or more Google Benchmark JSON runs (machines, GPUs, commits).

What it does: matches benchmarks by run name (the name without an aggregate
suffix) between a baseline (the first file) and each later file, and for
every match reports the real-time ratio new/baseline, the ratio of every
counter both sides have (marked higher-/lower-is-better or neutral), and the
two-sided Mann-Whitney U p-value of the time samples when both sides have at
least two repetitions ("n/a" otherwise).  A geometric-mean row summarises
each comparison.  It prints which context fields differ between the runs
(GPU, driver, CUDA, cuDNN, LibTorch, CPUs, MHz, threads, host...), lists
benchmarks present on one side only and errored benchmarks, and can write
everything as JSON (``--json``; a p-value that can't be computed is null).
With ``--threshold PCT`` the exit status is 1 when any benchmark's time grew
by more than PCT percent or a higher-is-better counter fell by more than PCT
percent.  Bad input (missing/malformed file, not benchmark output, no
benchmark in common, bad --filter) prints one line on stderr, exit status 2.

Samples: a side's iteration rows when it has them, otherwise its ``mean``
(else ``median``) aggregate as a single sample.  Time is ``real_time``
(which is the manual time for ``manual_time`` benchmarks), in seconds.

What it deliberately doesn't do: no per-repetition pairing, no multiple-
testing correction, no judgement of lower-is-better counters or neutral
counters for the exit status, and no comparison of later runs with each
other (each is compared with the baseline only).
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

import gbench  # noqa: E402

PROG = "compare"

# Context fields shown when they differ: (key, label).
CONTEXT_FIELDS = (
    ("device_name", "GPU / device"),
    ("cuda_driver_version", "CUDA driver"),
    ("cuda_runtime_version", "CUDA runtime"),
    ("cudnn_version", "cuDNN"),
    ("libtorch_version", "LibTorch"),
    ("compute_capability", "compute capability"),
    ("sm_count", "SMs"),
    ("gpu_memory_MB", "GPU memory (MB)"),
    ("cpu_model", "CPU model"),
    ("num_cpus", "CPUs"),
    ("mhz_per_cpu", "CPU MHz"),
    ("cpu_threads", "threads"),
    ("cpu_scaling_enabled", "CPU scaling"),
    ("host_name", "host"),
    ("git_commit", "git commit"),
    ("trainbench_version", "trainbench"),
    ("library_build_type", "benchmark library build"),
    ("dataset", "dataset"),
    ("train_samples", "train samples"),
    ("test_samples", "test samples"),
)


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


def compare_benchmark(old: gbench.Benchmark, new: gbench.Benchmark) -> dict:
    """Compare one benchmark present (and not errored) on both sides."""
    counters = []
    for name in old.counters:
        if name not in new.counters:
            continue
        base_value, new_value = old.counter(name), new.counter(name)
        counters.append({
            "name": name,
            "direction": gbench.counter_direction(name),
            "base": base_value,
            "new": new_value,
            "ratio": calculate_ratio(base_value, new_value),
            "change_pct": calculate_change(base_value, new_value),
        })
    return {
        "name": old.name,
        "base": side_summary(old),
        "new": side_summary(new),
        "time_ratio": calculate_ratio(old.time_s, new.time_s),
        "time_change_pct": calculate_change(old.time_s, new.time_s),
        "p_value": mann_whitney_p(old.times_s, new.times_s),
        "counters": counters,
        "regressions": [],
    }


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
                            "direction": gbench.counter_direction(name)}
                     for name, ratios in counter_ratios.items()},
    }


def get_difference_report(baseline: gbench.Run, run: gbench.Run,
                          name_filter: Optional[re.Pattern] = None) -> dict:
    """Compare ``run`` against ``baseline``: matched rows, one-sided names, errors, geomean."""
    old_all = gbench.collect_benchmarks(baseline)
    new_all = gbench.collect_benchmarks(run)
    if name_filter is not None:
        old_all = {k: v for k, v in old_all.items() if name_filter.search(k)}
        new_all = {k: v for k, v in new_all.items() if name_filter.search(k)}
    errored, rows = [], []
    for name in list(old_all) + [n for n in new_all if n not in old_all]:
        problems = []
        for side, benches in (("baseline", old_all), ("run", new_all)):
            bench = benches.get(name)
            if bench is None:
                continue
            if bench.error is not None:
                problems.append({"side": side, "message": bench.error})
            elif bench.source == "none":
                problems.append({"side": side,
                                 "message": "no iteration, mean or median row"})
        if problems:
            errored.append({"name": name, "problems": problems})
        elif name in old_all and name in new_all:
            rows.append(compare_benchmark(old_all[name], new_all[name]))
    errored_names = {e["name"] for e in errored}
    return {
        "baseline": {"path": baseline.path, "label": baseline.label},
        "run": {"path": run.path, "label": run.label},
        "benchmarks": rows,
        "geomean": geomean_row(rows),
        "only_in_baseline": [n for n in old_all
                             if n not in new_all and n not in errored_names],
        "only_in_run": [n for n in new_all
                        if n not in old_all and n not in errored_names],
        "errored": errored,
        "in_common": sum(1 for n in old_all if n in new_all),
    }


def find_regressions(report: dict, threshold_pct: float) -> list:
    """Mark and return regressions beyond ``threshold_pct`` in a difference report.

    Time (lower is better) and higher-is-better counters are judged.  Each
    benchmark row's ``regressions`` list is filled with the metric names;
    returns a list of {"name", "metric", "change_pct"}.
    """
    found = []
    for row in report["benchmarks"]:
        row["regressions"] = []
        metrics = [("time", gbench.LOWER, row["time_change_pct"])]
        metrics += [(c["name"], c["direction"], c["change_pct"])
                    for c in row["counters"] if c["direction"] == gbench.HIGHER]
        for metric, direction, change in metrics:
            if is_worse(change, direction, threshold_pct):
                row["regressions"].append(metric)
                found.append({"name": row["name"], "metric": metric,
                              "change_pct": change})
    return found


def context_differences(runs: list) -> list:
    """Context fields whose values differ between runs: [(key, label, [values])].

    A field missing from a run counts as the value None.
    """
    diffs = []
    for key, label in CONTEXT_FIELDS:
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


def format_report(report: dict, threshold_pct: Optional[float] = None) -> str:
    """Human-readable text for one difference report."""
    base, run = report["baseline"], report["run"]
    lines = [f"== {run['path']} ({run['label']}) vs baseline "
             f"{base['path']} ({base['label']}) =="]
    table = [("Benchmark", "Baseline", "New", "Ratio", "Change", "p-value", "")]
    for row in report["benchmarks"]:
        flag = "REGRESSION" if "time" in row["regressions"] else ""
        p = row["p_value"]
        table.append((row["name"], gbench.format_seconds(row["base"]["time_s"]),
                      gbench.format_seconds(row["new"]["time_s"]),
                      _fmt_ratio(row["time_ratio"]), _fmt_change(row["time_change_pct"]),
                      "n/a" if p is None else f"{p:.4f}", flag))
        for c in row["counters"]:
            mark = verdict(c["change_pct"], c["direction"])
            if c["name"] in row["regressions"]:
                mark = "REGRESSION"
            table.append((f"    {c['name']} [{c['direction']} is better]"
                          if c["direction"] != gbench.NEUTRAL_DIRECTION
                          else f"    {c['name']} [neutral]",
                          _fmt_value(c["base"]), _fmt_value(c["new"]),
                          _fmt_ratio(c["ratio"]), _fmt_change(c["change_pct"]), "", mark))
    geo = report["geomean"]
    plural = "" if geo["benchmarks"] == 1 else "s"
    table.append((f"geomean ({geo['benchmarks']} benchmark{plural}, time)", "", "",
                  _fmt_ratio(geo["time_ratio"]), "", "", ""))
    for name, info in geo["counters"].items():
        table.append((f"    {name} [{info['direction']}]", "", "",
                      _fmt_ratio(info["ratio"]), "", "", ""))
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
            lines.append(f"  {e['name']} ({where})")
    if threshold_pct is not None:
        bad = [r for r in report["benchmarks"] if r["regressions"]]
        lines.append(f"Regressions beyond {threshold_pct:g}%: {len(bad)} benchmark(s)")
        for r in bad:
            changes = {"time": r["time_change_pct"]}
            changes.update({c["name"]: c["change_pct"] for c in r["counters"]})
            detail = ", ".join(f"{m} {_fmt_change(changes[m])}" for m in r["regressions"])
            lines.append(f"  {r['name']}: {detail}")
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
    parser.add_argument("--threshold", type=float, metavar="PCT",
                        help="exit 1 when time grew, or a higher-is-better counter "
                             "fell, by more than PCT percent")
    parser.add_argument("--json", metavar="FILE", dest="json_out",
                        help="also write the comparison as JSON to FILE")
    return parser


def main(argv=None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 regression, 2 bad input)."""
    args = build_parser().parse_args(argv)
    if len(args.files) < 2:
        print(f"{PROG}: need at least two JSON files (baseline and a run to compare)",
              file=sys.stderr)
        return 2
    name_filter = None
    if args.filter is not None:
        try:
            name_filter = re.compile(args.filter)
        except re.error as err:
            print(f"{PROG}: invalid --filter regex {args.filter!r}: {err}", file=sys.stderr)
            return 2
    try:
        runs = [gbench.load_run(path) for path in args.files]
    except gbench.InputError as err:
        print(f"{PROG}: {err.path}: {err.problem}", file=sys.stderr)
        return 2
    reports = []
    for run in runs[1:]:
        report = get_difference_report(runs[0], run, name_filter)
        if report["in_common"] == 0:
            extra = f" matching --filter {args.filter!r}" if args.filter else ""
            print(f"{PROG}: {run.path}: no benchmark{extra} in common with "
                  f"baseline {runs[0].path}", file=sys.stderr)
            return 2
        reports.append(report)
    regressions = []
    if args.threshold is not None:
        for report in reports:
            found = find_regressions(report, args.threshold)
            report["regressions"] = found
            regressions += found
    diffs = context_differences(runs)
    out = [format_context(runs, diffs)]
    out += [format_report(r, args.threshold) for r in reports]
    try:
        print("\n\n".join(out))
        sys.stdout.flush()
    except BrokenPipeError:
        gbench.quiet_broken_pipe()
    if args.json_out:
        document = {
            "baseline": runs[0].path,
            "runs": [r.path for r in runs[1:]],
            "threshold_pct": args.threshold,
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
        names = {r["name"] for r in regressions}
        print(f"{PROG}: {len(names)} benchmark(s) regressed beyond {args.threshold:g}%",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
