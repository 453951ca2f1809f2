#!/usr/bin/env python3
"""Export a Google Benchmark JSON run as a spreadsheet-friendly CSV.

What it does: writes one row per benchmark run (iteration row), or with
``--aggregates`` one row per aggregate (mean, median, stddev, cv...).  A
benchmark that has no row of the requested kind (aggregates-only output, or
a run without repetitions) contributes its other rows instead, so nothing
disappears silently.  Columns:

    name, family, <axes in first-seen order>, run_type, aggregate_name,
    repetition_index, iterations, real_time, cpu_time, time_unit,
    real_time_s, cpu_time_s,
    <every counter of the file in first-seen order>, error_message

real_time and cpu_time are written as in the file, in its time_unit (a
trainbench file mixes s, ms and us); real_time_s and cpu_time_s are the same
times converted to seconds, so one column has one unit.  They are blank where
the times are not durations (aggregates whose aggregate_unit is not "time",
such as cv, which is a fraction) and where the row has no time.  Errored rows
(error_occurred) leave iterations and all four time cells blank: none of them
is a measurement (Google Benchmark writes 0 times, and the iteration count the
run was given).

The axes are the ``key:value`` segments of the name (batch, model, workers,
precision, pin, device, bytes, pinned...; unnamed numeric arguments become
arg0, arg1...).  A row whose name lacks an axis that other rows have gets a blank cell,
except where its family's names may leave the axis out (the run's declared axes, else
``declarations.FALLBACK_ADDED_AXES``): then the value that means (a BM_TrainEpoch without ``ranks`` is ranks 1).  Unlike Google Benchmark's own CSV, which fixes its counter
columns from the first benchmark, the counter columns are the union over the
whole file.  Output is UTF-8 via the csv module (minimal quoting), to ``-o
FILE`` or stdout.  Bad input prints one line on stderr, exit status 2.

What it deliberately doesn't do: no conversion of counters, no averaging,
no filtering, and run settings in the name (iterations:N, repeats:N,
threads:N) and flags (manual_time) are not axis columns.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cli  # noqa: E402
import declarations  # noqa: E402
import gbench  # noqa: E402

PROG = "csv_export"
LEADING = ("name", "family")
MIDDLE = ("run_type", "aggregate_name", "repetition_index", "iterations",
          "real_time", "cpu_time", "time_unit", "real_time_s", "cpu_time_s")
TRAILING = ("error_message",)


def select_rows(rows: list, aggregates: bool = False) -> list:
    """Rows to export, in file order.

    Iteration rows (``aggregates=False``) or aggregate rows (``True``); a run
    name with no row of that kind keeps all its rows instead.  Complexity
    rows (BigO, RMS: no times) are aggregates and only appear with
    ``aggregates=True``.
    """
    rows = [row for row in rows if aggregates or not gbench.is_complexity(row)]
    has_kind: dict = {}
    for row in rows:
        key = gbench.base_name(row)
        has_kind[key] = has_kind.get(key, False) or gbench.is_aggregate(row) == aggregates
    return [row for row in rows
            if gbench.is_aggregate(row) == aggregates or not has_kind[gbench.base_name(row)]]


def axis_columns(rows: list) -> list:
    """Axis names of the rows' run names, in first-seen order."""
    seen: dict = {}
    for row in rows:
        for key in gbench.parse_name(gbench.base_name(row)).axes:
            seen.setdefault(key, None)
    return list(seen)


def counter_columns(rows: list) -> list:
    """Union of the rows' user counters, in first-seen order."""
    seen: dict = {}
    for row in rows:
        for key in gbench.counters_of(row, declarations.RENAMED_COUNTERS):
            seen.setdefault(key, None)
    return list(seen)


def axis_cell(parsed: gbench.ParsedName, axis: str, added_axes: dict) -> str:
    """A row's cell in an axis column: the value in its name, else the value a name of its
    family without that axis means (``added_axes``, from ``declarations.added_axes``:
    ranks 1, graph 0), else blank."""
    return parsed.axes.get(axis, added_axes.get(parsed.family, {}).get(axis, ""))


def column_names(axes: list, counters: list) -> list:
    """Header: fixed columns, axes and counters; a clash gets an axis_/counter_ prefix."""
    header = list(LEADING)
    fixed = set(LEADING + MIDDLE + TRAILING)
    header += [f"axis_{a}" if a in fixed else a for a in axes]
    header += MIDDLE
    taken = set(header) | set(TRAILING)
    header += [f"counter_{c}" if c in taken else c for c in counters]
    header += TRAILING
    return header


def time_cells(row: dict) -> list:
    """[iterations, real_time, cpu_time, real_time_s, cpu_time_s] cells of a row.

    Errored rows get blanks (their zeros aren't measurements); the seconds
    columns are blank for aggregates that aren't times (cv) and for missing
    or non-numeric times.
    """
    if gbench.is_errored(row):
        return ["", "", "", "", ""]
    unit = row.get("time_unit", "ns")
    is_time = row.get("aggregate_unit", "time") == "time" and unit in gbench.TIME_UNITS
    seconds = [gbench.to_seconds(float(row[key]), unit)
               if is_time and gbench.is_number(row.get(key)) else ""
               for key in ("real_time", "cpu_time")]
    return [row.get("iterations", ""), row.get("real_time", ""),
            row.get("cpu_time", "")] + seconds


def build_table(run: gbench.Run, aggregates: bool = False) -> tuple:
    """Return (header, rows) for a run; every row is a list of cells."""
    rows = select_rows(run.rows, aggregates)
    axes, counters = axis_columns(rows), counter_columns(rows)
    header = column_names(axes, counters)
    added = declarations.added_axes(run.context)
    table = []
    for row in rows:
        parsed = gbench.parse_name(gbench.base_name(row))
        row_counters = gbench.counters_of(row, declarations.RENAMED_COUNTERS)
        cells = [row["name"], parsed.family]
        cells += [axis_cell(parsed, a, added) for a in axes]
        iterations, real_time, cpu_time, real_s, cpu_s = time_cells(row)
        cells += [row.get("run_type", "aggregate" if gbench.is_aggregate(row) else "iteration"),
                  row.get("aggregate_name", ""), row.get("repetition_index", ""),
                  iterations, real_time, cpu_time, row.get("time_unit", "ns"),
                  real_s, cpu_s]
        cells += [row_counters.get(c, "") for c in counters]
        cells.append(row.get("error_message", ""))
        table.append(cells)
    return header, table


def write_csv(header: list, table: list, handle) -> None:
    """Write header and rows with the csv module (minimal quoting)."""
    writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(table)


def export(run: gbench.Run, out_path: str, aggregates: bool = False) -> None:
    """Write the CSV for ``run`` to ``out_path`` (UTF-8)."""
    header, table = build_table(run, aggregates)
    with open(out_path, "w", encoding="utf-8", newline="") as handle:
        write_csv(header, table, handle)


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    return cli.one_run_parser(
        "csv_export.py", "Google Benchmark JSON -> CSV with name axes and all counters as columns.",
        "write here instead of stdout",
        aggregates={"action": "store_true",
                    "help": "one row per aggregate (mean, median, ...) instead of per run"})


def write_for(args, run: gbench.Run):
    """What ``-o FILE`` or stdout gets: a function writing the CSV of ``run`` (of its
    aggregates with ``--aggregates``) to an open handle."""
    header, table = build_table(run, args.aggregates)
    return lambda handle: write_csv(header, table, handle)


@cli.tool_main(PROG)
def main(argv=None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    return cli.one_run_main(PROG, build_parser(), argv, write_for)


if __name__ == "__main__":
    sys.exit(main())
