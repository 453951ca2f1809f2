"""The text compare.py prints: the runs and the context that differs, then one table per
comparison (comparison.get_difference_report) and its regressions.

What it does: :func:`format_context` and :func:`format_report` turn the data of
comparison.py into aligned plain-text tables; times are shown with
``gbench.format_seconds``, changes in percent with one decimal, ratios with three.

What it deliberately doesn't do: no computing (every number comes from the report), no
printing.
"""

from __future__ import annotations

from typing import Optional

import comparison
import gbench


def pair_note(settings: str, across: Optional[dict]) -> str:
    """The note of a pair: the settings note, then 'ranks 1->8' when the --across axis
    differs."""
    notes = [settings] if settings else []
    if across and across["base"] != across["new"]:
        notes.append(f"{across['axis']} {across['base'] or '-'}->{across['new'] or '-'}")
    return ", ".join(notes)


def _fmt_value(value) -> str:
    """A counter value cell: 4 significant digits, 'n/a' when missing."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fmt_change(change: Optional[float]) -> str:
    """A change cell in percent, signed, one decimal ('+30.0%'; never '-0.0%')."""
    if change is None:
        return "n/a"
    rounded = round(change, 1)
    return f"{rounded if rounded != 0 else 0.0:+.1f}%"


def _fmt_ratio(ratio: Optional[float]) -> str:
    """A ratio cell, three decimals."""
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
    too_small = row.get("p_value_reason") == comparison.P_N_TOO_SMALL
    return comparison.P_N_TOO_SMALL if too_small else "n/a"


def _fmt_noise(row: dict) -> str:
    """Noise cell: each side's noise_pct and sample count, '1.2% (n=5) / 0.8% (n=3)'; 'n/a'
    for a side without 2 samples."""
    def side(summary: dict) -> str:
        if summary.get("noise_pct") is None:
            return "n/a"
        return f"{summary['noise_pct']:.1f}% (n={summary['noise_samples']})"
    return f"{side(row['base'])} / {side(row['new'])}"


def describe_regression(found: dict, changes: dict) -> str:
    """One metric of the regression list: 'time +30.0%', 'errored in the run ...'."""
    if found["metric"] == "error":
        return f"errored in the run but not in the baseline ({found['message']})"
    if found["metric"] == "missing":
        return "missing from the run (only in the baseline)"
    if found["change_pct"] is None and found["message"]:
        return f"{found['metric']} is {found['message']}"
    return f"{found['metric']} {_fmt_change(changes.get(found['metric']))}"


def _mark(change_pct: Optional[float], direction: str, regressed: bool) -> str:
    """The verdict cell: 'REGRESSION' when the check failed on it, else better/worse/''."""
    return "REGRESSION" if regressed else comparison.verdict(change_pct, direction)


def counter_label(counter: dict) -> str:
    """A counter row's first cell: '    name [higher is better]' or '    name [neutral]', with
    the declared unit after the name where the run declares one ('    step_ms (ms) [...]')."""
    name = counter["name"] + (f" ({counter['unit']})" if counter.get("unit") else "")
    if counter["direction"] == gbench.NEUTRAL_DIRECTION:
        return f"    {name} [neutral]"
    return f"    {name} [{counter['direction']} is better]"


def benchmark_rows(row: dict) -> list:
    """The table rows of one compared benchmark: its time, each shared counter, then each
    counter of the baseline the run lacks ("missing") or has as no number."""
    rows = [(row["name"], gbench.format_seconds(row["base"]["time_s"]),
             gbench.format_seconds(row["new"]["time_s"]),
             _fmt_ratio(row["time_ratio"]), _fmt_change(row["time_change_pct"]),
             _fmt_p(row), _fmt_noise(row),
             "PERTURBED" if row.get("perturbed") else
             _mark(row["time_change_pct"], gbench.LOWER, "time" in row["regressions"]),
             pair_note(row.get("settings_note", ""), row.get("across")))]
    for c in row["counters"]:
        rows.append((counter_label(c), _fmt_value(c["base"]), _fmt_value(c["new"]),
                     _fmt_ratio(c["ratio"]), _fmt_change(c["change_pct"]), "", "",
                     _mark(c["change_pct"], c["direction"], c["name"] in row["regressions"]),
                     ""))
    for c in row.get("missing_in_run", []):
        new = "missing" if c["message"] == comparison.COUNTER_MISSING else "not a number"
        rows.append((counter_label(c), _fmt_value(c["base"]), new, "n/a", "n/a", "", "",
                     "REGRESSION" if c["name"] in row["regressions"] else "", ""))
    return rows


def geomean_rows(geo: dict) -> list:
    """The table rows of the geometric means: time, then each counter."""
    plural = "" if geo["benchmarks"] == 1 else "s"
    rows = [(f"geomean ({geo['benchmarks']} benchmark{plural}, time)", "", "",
             _fmt_ratio(geo["time_ratio"]), "", "", "", "", "")]
    rows += [(f"    {name} [{info['direction']}]", "", "", _fmt_ratio(info["ratio"]),
              "", "", "", "", "") for name, info in geo["counters"].items()]
    return rows


def unmatched_lines(report: dict) -> list:
    """The lists of benchmarks on one side only and of errored ones."""
    run_path = report["run"]["path"]
    lines = []
    for names, title in ((report["only_in_baseline"], "Only in baseline"),
                         (report["only_in_run"], f"Only in {run_path}")):
        if names:
            lines.append(f"{title} ({len(names)}):")
            lines += [f"  {n}" for n in names]
    if report["errored"]:
        lines.append(f"Errored, not compared ({len(report['errored'])}):")
        for e in report["errored"]:
            where = "; ".join(
                f"{'baseline' if p['side'] == 'baseline' else run_path}: {p['message']}"
                for p in e["problems"])
            note = pair_note(e.get("settings_note", ""), e.get("across"))
            note = f" [{note}]" if note else ""
            lines.append(f"  {e['name']}{note} ({where})")
    return lines


def regression_lines(report: dict, threshold_pct: Optional[float]) -> list:
    """'Regressions beyond 5%: N benchmark(s)', then one line per benchmark naming each
    metric that failed, from ``report["regressions"]``."""
    by_name: dict = {}
    for item in report.get("regressions", []):
        by_name.setdefault(item["name"], []).append(item)
    beyond = f" beyond {threshold_pct:g}%" if threshold_pct is not None else ""
    lines = [f"Regressions{beyond}: {len(by_name)} benchmark(s)"]
    rows = {r["name"]: r for r in report["benchmarks"]}
    for name, items in by_name.items():
        changes = {}
        if name in rows:
            changes = {"time": rows[name]["time_change_pct"]}
            changes.update({c["name"]: c["change_pct"] for c in rows[name]["counters"]})
        detail = ", ".join(describe_regression(item, changes) for item in items)
        lines.append(f"  {name}: {detail}")
    return lines


def not_judged_lines(report: dict) -> list:
    """'Not judged, paused while measuring (N):' and a line per benchmark naming the side
    that was paused and for how long; none when no side was."""
    rows = [r for r in report["benchmarks"] if r.get("perturbed")]
    if not rows:
        return []
    run_path = report["run"]["path"]
    lines = [f"Not judged, paused while measuring ({len(rows)}):"]
    for row in rows:
        sides = "; ".join(
            f"{'baseline' if p['side'] == 'baseline' else run_path}: perturbed, "
            f"paused {p['pauses']} time(s) for {p['paused_s']:.1f} s" for p in row["perturbed"])
        lines.append(f"  {row['name']} ({sides})")
    return lines


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
    table = [("Benchmark", "Baseline", "New", "Ratio", "Change", "p-value",
              "Noise (base / new)", "", "")]
    for row in report["benchmarks"]:
        table += benchmark_rows(row)
    lines += _table(table + geomean_rows(report["geomean"]))
    lines += unmatched_lines(report)
    if checked:
        lines += not_judged_lines(report)
        lines += regression_lines(report, threshold_pct)
    return "\n".join(lines)


def failure_summary(regressions: list, threshold_pct: Optional[float]) -> str:
    """Why the check failed, for the one stderr line of exit status 1: how many benchmarks
    failed, and for which reasons."""
    kinds: dict = {}
    for item in regressions:
        if item["metric"] in ("error", "missing"):
            kind = item["metric"]
        elif item["message"] == comparison.COUNTER_MISSING or \
                (item["message"] or "").startswith(comparison.COUNTER_NOT_A_NUMBER):
            kind = "counter_missing"
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
    if "counter_missing" in kinds:
        parts.append(f"{len(kinds['counter_missing'])} with a higher-is-better counter "
                     "missing or not a number in the run")
    if "error" in kinds:
        parts.append(f"{len(kinds['error'])} errored in the run but not in the baseline")
    if "missing" in kinds:
        parts.append(f"{len(kinds['missing'])} missing from the run")
    return f"{len(names)} benchmark(s) failed the check: {'; '.join(parts)}"


def format_all(runs: list, diffs: list, reports: list, threshold_pct: Optional[float],
               checked: bool) -> str:
    """Everything compare.py prints on stdout: the context block, then each report."""
    out = [format_context(runs, diffs)]
    out += [format_report(r, threshold_pct, checked) for r in reports]
    return "\n\n".join(out)
