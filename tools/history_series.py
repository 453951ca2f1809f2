"""The history read back: runs in order on each machine, and the series of each metric.

What it does: :func:`load_history` reads a history database into a :class:`History`: the
runs of each machine key in order (:func:`order_runs`: ``git rev-list --topo-order`` of the
project where a run's commit is in it, else the run's date) and each series (machine key x
benchmark x metric) as its points in that order.  A run's software annotations and the
changes between consecutive runs of a machine (:func:`software_changes`) are read here too.

What it deliberately doesn't do: no statistics (history_check.py), no output.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from typing import Optional

import history_db

ANNOTATION_COLUMNS = ", ".join(history_db.ANNOTATIONS)


@dataclass
class RunInfo:
    """One ingested run: its row of ``runs`` and its place in its machine's order."""

    run_id: int
    path: str
    machine_key: str
    machine_name: str
    date: str
    commit: Optional[str]
    dirty: bool
    software: dict
    position: int = -1          # index in its machine's ordered runs


@dataclass
class Point:
    """One result of a series: the run (index into its machine's ordered runs), the value
    (None unless ok), status, message and the result's id (for its samples)."""

    position: int
    run: RunInfo
    value: Optional[float]
    status: str
    message: Optional[str]
    result_id: int
    sample_count: int
    perturbed: bool = False     # the process was paused while it ran: shown, not judged


@dataclass
class Series:
    machine: str
    benchmark: str
    metric: str
    family: str
    direction: str = "neutral"
    unit: Optional[str] = None
    points: list = field(default_factory=list)


@dataclass
class History:
    runs: dict                  # machine key -> [RunInfo] in order
    names: dict                 # machine key -> readable name
    series: dict                # (machine, benchmark, metric) -> Series
    db: object = None

    def samples(self, point: Point) -> list:
        """A point's raw samples; its value alone where the run had one repetition."""
        if point.sample_count < 2:
            return [point.value] if point.value is not None else []
        return [row[0] for row in self.db.execute(
            "SELECT value FROM samples WHERE result_id = ? ORDER BY sample_index",
            (point.result_id,))]


def topo_positions(repo: Optional[str]) -> list:
    """Full commit hashes of ``repo``, oldest first (``git rev-list --topo-order --all``
    reversed); empty when git or the repository is not there."""
    if not repo:
        return []
    try:
        out = subprocess.run(["git", "-C", repo, "rev-list", "--topo-order", "--all"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.split()[::-1] if out.returncode == 0 else []


_HEX = re.compile(r"^[0-9a-f]{4,40}$")


def commit_ranks(commits: set, repo: Optional[str]) -> dict:
    """{short commit: its index in the project's topological order} for the commits found."""
    hashes = topo_positions(repo) if commits else []
    by_length: dict = {}
    ranks = {}
    for commit in commits:
        if not _HEX.match(commit):
            continue
        table = by_length.get(len(commit))
        if table is None:
            table = by_length[len(commit)] = {}
            for index, full in enumerate(hashes):
                table.setdefault(full[:len(commit)], index)
        if commit in table:
            ranks[commit] = table[commit]
    return ranks


def order_runs(runs: list, ranks: dict) -> list:
    """The runs of one machine in order.  By date; then the runs whose commit is in the
    project keep their places among themselves but take them in topological order (date
    within one commit), so a rebased or back-dated commit sorts where git puts it."""
    by_date = sorted(runs, key=lambda r: (r.date, r.run_id))
    slots = [i for i, r in enumerate(by_date) if r.commit in ranks]
    known = sorted((by_date[i] for i in slots), key=lambda r: (ranks[r.commit], r.date, r.run_id))
    for slot, run in zip(slots, known):
        by_date[slot] = run
    for position, run in enumerate(by_date):
        run.position = position
    return by_date


def load_history(db, repo: Optional[str] = None, machine: Optional[str] = None,
                 name_filter: Optional[re.Pattern] = None) -> History:
    """Every run and series of ``db`` (only machine key ``machine`` and benchmarks matching
    ``name_filter``, when given)."""
    infos = {}
    for row in db.execute("SELECT run_id, path, machine_key, machine_name, date_utc, "
                          f"git_commit, dirty, {ANNOTATION_COLUMNS} FROM runs"):
        software = dict(zip(history_db.ANNOTATIONS, row[7:]))
        infos[row[0]] = RunInfo(row[0], row[1], row[2], row[3], row[4], row[5],
                                bool(row[6]), software)
    ranks = commit_ranks({r.commit for r in infos.values() if r.commit}, repo)
    runs: dict = {}
    for info in infos.values():
        runs.setdefault(info.machine_key, []).append(info)
    runs = {key: order_runs(items, ranks) for key, items in sorted(runs.items())}
    names = {key: items[0].machine_name for key, items in runs.items()}
    if machine is not None:
        runs = {k: v for k, v in runs.items() if k == machine}
    families = dict(db.execute("SELECT name, family FROM benchmarks"))
    series: dict = {}
    for (result_id, run_id, name, metric, unit, value, direction, status, message,
         count, perturbed) in db.execute("SELECT result_id, run_id, name, metric, unit, value, "
                                         "direction, status, message, sample_count, perturbed "
                                         "FROM results"):
        info = infos[run_id]
        if machine is not None and info.machine_key != machine:
            continue
        if name_filter is not None and not name_filter.search(name):
            continue
        key = (info.machine_key, name, metric)
        entry = series.get(key)
        if entry is None:
            entry = series[key] = Series(info.machine_key, name, metric, families[name])
        if status == history_db.STATUS_OK:
            entry.direction, entry.unit = direction, unit
        entry.points.append(Point(info.position, info, value, status, message, result_id,
                                  count, bool(perturbed)))
    for entry in series.values():
        entry.points.sort(key=lambda p: p.position)
    return History(runs, names, series, db)


def software_label(key: str) -> str:
    return history_db.LABELS.get(key, key)


def software_change(before: RunInfo, after: RunInfo) -> list:
    """["LibTorch 2.10.0 -> 2.11.0", ...]: the annotations that differ between two runs."""
    return [f"{software_label(key)} {before.software.get(key) or '?'} -> "
            f"{after.software.get(key) or '?'}"
            for key in history_db.ANNOTATIONS
            if (before.software.get(key) or None) != (after.software.get(key) or None)]


def software_changes(runs: list) -> list:
    """[(position, ["LibTorch 2.10.0 -> 2.11.0", ...])] where a machine's software changed
    from the run before."""
    return [(after.position, change) for before, after in zip(runs, runs[1:])
            if (change := software_change(before, after))]
