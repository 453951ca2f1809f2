"""Change detection over the history: the class of the newest run of every series.

What it does: :func:`classify_all` gives each series (machine key x benchmark x metric) of a
:class:`history_series.History` one class, by its newest run:

  * ``new error``: ok before on that machine, errored or out of memory now (a regression);
  * ``regression``: the newest 2 or more runs in a row flagged worse;
  * ``suspected``: only the newest run flagged worse;
  * ``improvement``: the newest run flagged better;
  * ``insufficient data``: fewer than ``MIN_BASELINE_RUNS`` earlier runs to judge it by;
  * ``unchanged``: not flagged; ``not measured``: the newest run has no value (skipped,
    interrupted, or errored on a machine where it never ran) or was perturbed (paused).

A run is flagged (:func:`flag`) when its change against the median of up to
``BASELINE_RUNS`` earlier ok runs of the series (never a run from a dirty tree) exceeds the
larger of a floor (percent; per metric and per machine) and ``ROBUST_SIGMAS`` robust standard
deviations (1.4826 x MAD) of those runs, and, where both sides have two samples or more, a
Mann-Whitney test agrees (p < ``comparison.ALPHA``).  The better direction is the one
ingest stored from the counter table (declarations.py); neutral metrics are not judged.

What it deliberately doesn't do: no reading of files or the database (history_series.py), no
output (history.py, history_report.py).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Optional

import comparison
import gbench
import history_db
import history_series

REGRESSION, SUSPECTED, IMPROVEMENT = "regression", "suspected", "improvement"
INSUFFICIENT, NEW_ERROR = "insufficient data", "new error"
UNCHANGED, NOT_MEASURED = "unchanged", "not measured"
CLASSES = (NEW_ERROR, REGRESSION, SUSPECTED, IMPROVEMENT, INSUFFICIENT, UNCHANGED,
           NOT_MEASURED)
FAILING = frozenset({REGRESSION, NEW_ERROR})   # what makes check exit 1

BASELINE_RUNS = 10          # earlier runs whose median is the baseline
MIN_BASELINE_RUNS = 3       # fewer earlier runs: insufficient data
ROBUST_SIGMAS = 4.0         # a change within 4 robust standard deviations is noise
MAD_TO_SIGMA = 1.4826       # MAD x this = the standard deviation of normal data
DEFAULT_FLOOR_PCT = 5.0
WORSE, BETTER = "worse", "better"


@dataclass
class Floors:
    """The floor of a change, in percent: ``default``, else per metric and per machine (the
    larger of the two where both are set)."""

    default: float = DEFAULT_FLOOR_PCT
    metric: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)

    def of(self, machine: str, metric: str) -> float:
        own = [v for v in (self.metric.get(metric), self.machine.get(machine)) if v is not None]
        return max(own) if own else self.default


@dataclass
class Flag:
    """How one run compares with its baseline."""

    point: history_series.Point
    baseline: list                  # the baseline's points, oldest first
    median: float
    change_pct: Optional[float]
    threshold_pct: float
    p_value: Optional[float]
    verdict: Optional[str]          # WORSE, BETTER or None (not flagged)


@dataclass
class Classified:
    series: history_series.Series
    machine_name: str
    klass: str
    newest: history_series.Point
    flag: Optional[Flag] = None
    streak: list = field(default_factory=list)     # the flagged points, newest first
    software_change: list = field(default_factory=list)
    message: Optional[str] = None

    def to_json(self) -> dict:
        flag = self.flag
        baseline = flag.baseline if flag else []
        return {
            "machine": {"key": self.series.machine, "name": self.machine_name},
            "benchmark": self.series.benchmark, "family": self.series.family,
            "metric": self.series.metric, "unit": self.series.unit,
            "direction": self.series.direction, "class": self.klass,
            "baseline_median": flag.median if flag else None,
            "newest_value": self.newest.value,
            "change_pct": flag.change_pct if flag else None,
            "threshold_pct": flag.threshold_pct if flag else None,
            "p_value": flag.p_value if flag else None,
            "newest_status": self.newest.status, "message": self.message,
            "flagged_runs": len(self.streak),
            "software_change": self.software_change,
            "runs": {"newest": self.newest.run.path,
                     "newest_commit": self.newest.run.commit,
                     "newest_date": self.newest.run.date,
                     "baseline": [p.run.path for p in baseline],
                     "flagged": [p.run.path for p in self.streak]},
        }


def baseline_of(points: list, index: int) -> list:
    """Up to BASELINE_RUNS ok points before ``points[index]``, none from a dirty tree or
    perturbed (paused while it ran)."""
    earlier = [p for p in points[:index] if p.status == history_db.STATUS_OK
               and p.value is not None and not p.run.dirty and not p.perturbed]
    return earlier[-BASELINE_RUNS:]


def flag(history, series, index: int, floors: Floors) -> Optional[Flag]:
    """The flag of ``series.points[index]`` (an ok point); None with too short a baseline."""
    point = series.points[index]
    baseline = baseline_of(series.points, index)
    if len(baseline) < MIN_BASELINE_RUNS:
        return None
    values = [p.value for p in baseline]
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    change = comparison.calculate_change(median, point.value)
    noise_pct = (ROBUST_SIGMAS * MAD_TO_SIGMA * mad / abs(median) * 100.0) if median else 0.0
    threshold = max(floors.of(series.machine, series.metric), noise_pct)
    result = Flag(point, baseline, median, change, threshold, None, None)
    if change is None or abs(change) <= threshold:
        return result
    if point.sample_count >= 2:
        new = history.samples(point)
        old = [v for p in baseline for v in history.samples(p)]
        p_value, _ = comparison.p_value(old, new)
        result.p_value = p_value
        if p_value is not None and p_value >= comparison.ALPHA:
            return result
    worse = change > 0 if series.direction == gbench.LOWER else change < 0
    result.verdict = WORSE if worse else BETTER
    return result


def classify(history, series, floors: Floors) -> Optional[Classified]:
    """The class of a series' newest point; None for a neutral metric (shown, not judged)."""
    points = series.points
    newest = points[-1]
    name = history.names.get(series.machine, series.machine)
    found = Classified(series, name, UNCHANGED, newest, message=newest.message)
    if newest.status != history_db.STATUS_OK:
        failed = newest.status == history_db.STATUS_ERRORED or history_db.is_oom(newest.message)
        last_ok = next((i for i in range(len(points) - 1, -1, -1)
                        if points[i].status == history_db.STATUS_OK), None)
        if failed and last_ok is not None:
            found.klass = NEW_ERROR
            found.streak = [p for p in points[last_ok + 1:]][::-1]
            found.software_change = history_series.software_change(
                points[last_ok].run, points[last_ok + 1].run)
        else:
            found.klass = NOT_MEASURED
        return found
    if series.direction not in (gbench.LOWER, gbench.HIGHER):
        return None
    if newest.perturbed:        # paused while it ran: its numbers say nothing (compare too)
        found.klass = NOT_MEASURED
        return found
    found.flag = flag(history, series, len(points) - 1, floors)
    if found.flag is None:
        found.klass = INSUFFICIENT
        return found
    verdict = found.flag.verdict
    if verdict is None:
        return found
    index = first_index = len(points) - 1
    while index >= 0 and points[index].status == history_db.STATUS_OK \
            and not points[index].perturbed:
        earlier = found.flag if index == len(points) - 1 else flag(history, series, index, floors)
        if earlier is None or earlier.verdict != verdict:
            break
        found.streak.append(points[index])
        first_index = index
        index -= 1
    if verdict == BETTER:
        found.klass = IMPROVEMENT
    else:
        found.klass = REGRESSION if len(found.streak) >= 2 else SUSPECTED
    before = baseline_of(points, first_index)
    if before:
        found.software_change = history_series.software_change(before[-1].run,
                                                               points[first_index].run)
    return found


def classify_all(history, floors: Optional[Floors] = None) -> list:
    """Every judged series' :class:`Classified`, failing ones first, then by the size of
    the change, largest first."""
    floors = floors or Floors()
    newest_of_benchmark: dict = {}
    for (machine, bench, _), series in history.series.items():
        key = (machine, bench)
        newest_of_benchmark[key] = max(newest_of_benchmark.get(key, -1),
                                       series.points[-1].position)
    found = []
    for (machine, bench, _), series in history.series.items():
        # A counter absent from the benchmark's newest run (it errored: its time carries
        # the status) is not judged by an older value.
        if series.points[-1].position != newest_of_benchmark[(machine, bench)]:
            continue
        entry = classify(history, series, floors)
        if entry is not None:
            found.append(entry)
    return sorted(found, key=sort_key)


def sort_key(entry: Classified) -> tuple:
    change = entry.flag.change_pct if entry.flag and entry.flag.change_pct is not None else 0.0
    return (CLASSES.index(entry.klass), -abs(change), entry.series.machine,
            entry.series.benchmark, entry.series.metric)


def counts(entries: list) -> dict:
    return {klass: sum(1 for e in entries if e.klass == klass) for klass in CLASSES}
