"""What a compare check fails on: the regressions of difference reports.

What it does: :func:`find_regressions` marks, in a difference report of comparison.py
(``get_difference_report``), what a ``--threshold`` or ``--fail-on-missing`` check fails
on: a time, or a higher-is-better counter, worse by more than the threshold; a NaN or
infinite value in the run; a higher-is-better counter of the baseline that the run lacks
or has as no number; a benchmark that errored in the run only; one missing from the run.
A benchmark either side was paused in (trainbench's ``perturbed`` counter) is not judged.
:func:`check_reports` does it for every report.  comparison.py re-exports all of it.

What it deliberately doesn't do: no comparing (comparison.py), no text
(comparison_text.py), no exit statuses (compare.py).
"""

from __future__ import annotations

from typing import Optional

import gbench

# A baseline counter the run's benchmark lacks: the message of its regression (--threshold,
# for a higher-is-better counter) when it is absent, and its start when it is not a number.
COUNTER_MISSING = "missing from the run"
COUNTER_NOT_A_NUMBER = "not a number in the run"


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


def row_regressions(row: dict, threshold_pct: float) -> list:
    """The regressions of one compared benchmark: each time or counter with a NaN or infinite
    sample in the run, each higher-is-better counter of the baseline the run lacks or has
    as no number, then the time and each higher-is-better counter that got worse by
    more than ``threshold_pct`` percent.  Fills ``row["regressions"]`` with their names."""
    if row.get("perturbed"):
        # A paused side's numbers say how long the pause was, not how fast the code is:
        # neither a regression nor a pass; listed as not judged (comparison_text.py).
        row["regressions"] = []
        return []
    found = []
    non_finite = {entry["metric"]: entry["value"] for entry in row.get("non_finite_in_run", [])}
    for metric, value in non_finite.items():
        found.append({"name": row["name"], "metric": metric, "change_pct": None,
                      "message": f"{value} in the run"})
    found += [{"name": row["name"], "metric": entry["name"], "change_pct": None,
               "message": entry["message"]}
              for entry in row.get("missing_in_run", []) if entry["direction"] == gbench.HIGHER]
    metrics = [("time", gbench.LOWER, row["time_change_pct"])]
    metrics += [(c["name"], c["direction"], c["change_pct"])
                for c in row["counters"] if c["direction"] == gbench.HIGHER]
    for metric, direction, change in metrics:
        if metric not in non_finite and is_worse(change, direction, threshold_pct):
            found.append({"name": row["name"], "metric": metric, "change_pct": change,
                          "message": None})
    row["regressions"] = [f["metric"] for f in found]
    return found


def find_regressions(report: dict, threshold_pct: Optional[float] = None,
                     fail_on_missing: bool = False) -> list:
    """Mark and return the regressions in a difference report.

    With ``threshold_pct``, time (lower is better) and higher-is-better
    counters that got worse by more than ``threshold_pct`` percent, the
    time or any counter with a NaN or infinite sample in the run (change_pct
    None, message "NaN in the run"), and each higher-is-better counter of the
    baseline that the run lacks (message ``COUNTER_MISSING``) or has as no number
    (``COUNTER_NOT_A_NUMBER`` ...); each benchmark row's ``regressions``
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
        if threshold_pct is not None:
            found += row_regressions(row, threshold_pct)
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


def check_reports(reports: list, threshold_pct: Optional[float],
                  fail_on_missing: bool) -> list:
    """Every report's regressions (:func:`find_regressions`), stored in each report's
    ``regressions`` and returned together; none unless a check was asked for."""
    found = []
    if threshold_pct is None and not fail_on_missing:
        return found
    for report in reports:
        report["regressions"] = find_regressions(report, threshold_pct, fail_on_missing)
        found += report["regressions"]
    return found
