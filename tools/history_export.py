"""The history as rows: one per result, as CSV (spreadsheets) or JSON lines (other databases).

What it does: :func:`export_rows` yields, for every result of the database, the run (file,
SHA-256, machine key and name, date, commit, dirty, the software annotations), the
benchmark (normalized name, family, each axis), the metric, unit, value, direction, status,
message and sample count.  :func:`write_csv` gives each axis a column ``axis_<name>`` (blank
where a benchmark lacks it); :func:`write_jsonl` gives them as an ``axes`` object.

What it deliberately doesn't do: no samples (they are in the database's ``samples``), no
judging.
"""

from __future__ import annotations

import csv
import json

import history_db

RUN_COLUMNS = ["path", "sha256", "machine_key", "machine_name", "date_utc", "git_commit",
               "dirty", *history_db.ANNOTATIONS]
RESULT_COLUMNS = ["benchmark", "family", "raw_name", "metric", "unit", "value", "direction",
                  "status", "message", "sample_count", "perturbed"]
QUERY = ("SELECT " + ", ".join(f"runs.{c}" for c in RUN_COLUMNS)
         + ", results.name, benchmarks.family, results.raw_name, results.metric, "
         "results.unit, results.value, results.direction, results.status, results.message, "
         "results.sample_count, results.perturbed FROM results JOIN runs USING (run_id) "
         "JOIN benchmarks ON benchmarks.name = results.name "
         "ORDER BY runs.date_utc, runs.run_id, results.result_id")


def axes_table(db) -> dict:
    table: dict = {}
    for name, axis, value in db.execute("SELECT name, axis, value FROM axes"):
        table.setdefault(name, {})[axis] = value
    return table


def export_rows(db):
    """(row dict, axes dict) for every result."""
    axes = axes_table(db)
    columns = RUN_COLUMNS + RESULT_COLUMNS
    for values in db.execute(QUERY):
        row = dict(zip(columns, values))
        row["dirty"], row["perturbed"] = bool(row["dirty"]), bool(row["perturbed"])
        yield row, axes.get(row["benchmark"], {})


def write_csv(db, handle) -> None:
    names = sorted({axis for (axis,) in db.execute("SELECT DISTINCT axis FROM axes")})
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(RUN_COLUMNS + RESULT_COLUMNS[:2] + [f"axis_{n}" for n in names]
                    + RESULT_COLUMNS[2:])
    for row, axes in export_rows(db):
        values = [row[c] for c in RUN_COLUMNS + RESULT_COLUMNS]
        cells = ["" if v is None else repr(v) if isinstance(v, float) else v for v in values]
        split = len(RUN_COLUMNS) + 2
        writer.writerow(cells[:split] + [axes.get(n, "") for n in names] + cells[split:])


def write_jsonl(db, handle) -> None:
    for row, axes in export_rows(db):
        row["axes"] = axes
        handle.write(json.dumps(row, sort_keys=True) + "\n")
