#!/usr/bin/env python3
"""Regression tracking across machines: a results history in SQLite, change detection, a page.

    history.py ingest DB RUN.json... | DIR...   read runs into the database (idempotent)
    history.py check DB [--machine KEY] [--filter REGEX] [--json FILE]
                                               classify the newest run of every series;
                                               exit 1 on a regression
    history.py report DB OUT.html [--reference KEY]
                                               one self-contained HTML page
    history.py export DB --csv FILE | --jsonl FILE
                                               one row per result

tools/README.md ("history") is the manual: the tables, the machine key, the order of runs,
the classes and how a run is flagged.  This file is the command line only: the database is
history_db.py, the series history_series.py, the judging history_check.py, the page
history_report.py (charts history_charts.py, change points history_changepoints.py), the
rows history_export.py.  Exit statuses are cli.py's: 0 done, 1 check found a regression,
2 bad input (one line), 3 the tool's own failure, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cli  # noqa: E402
import comparison  # noqa: E402
import gbench  # noqa: E402
import history_check  # noqa: E402
import history_db  # noqa: E402
import history_export  # noqa: E402
import history_report  # noqa: E402
import history_series  # noqa: E402

PROG = "history"
# The project whose `git rev-list --topo-order` orders runs: the one this file is in.
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMIT_EVERY_FILES = 100    # an interrupted ingest keeps what was committed


class BadFlag(gbench.InputError):
    """A flag value history.py cannot use: one line naming the flag (exit status 2)."""

    def __init__(self, flag: str, problem: str):
        super().__init__(flag, problem)


def percent(text: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise BadFlag(flag, f"{text!r} is not a finite number >= 0 (percent)")
    return value


def assignments(items: list, flag: str) -> dict:
    """{NAME: PCT} from NAME=PCT values of a repeatable flag."""
    table = {}
    for item in items or []:
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            raise BadFlag(flag, f"{item!r} is not NAME=PCT")
        table[name] = percent(value, flag)
    return table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="history.py", description=(
        "A history of Google Benchmark runs in SQLite: ingest, check, report, export."))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ingest = sub.add_parser("ingest", help="read JSON runs (files or directories) into DB")
    ingest.add_argument("db", metavar="DB")
    ingest.add_argument("inputs", nargs="+", metavar="RUN.json|DIR")
    judged = argparse.ArgumentParser(add_help=False)
    judged.add_argument("db", metavar="DB")
    judged.add_argument("--floor", metavar="PCT", default=str(history_check.DEFAULT_FLOOR_PCT),
                        help="smallest change flagged, in percent (default %(default)s)")
    judged.add_argument("--metric-floor", action="append", metavar="METRIC=PCT",
                        help="the floor of one metric (repeatable)")
    judged.add_argument("--machine-floor", action="append", metavar="KEY=PCT",
                        help="the floor of one machine, by key or name (repeatable)")
    judged.add_argument("--repo", metavar="DIR", default=PROJECT,
                        help="git repository whose commit order orders the runs "
                             "(default: this project)")
    check = sub.add_parser("check", parents=[judged],
                           help="classify the newest run of every series; exit 1 on a regression")
    check.add_argument("--machine", metavar="KEY", help="only this machine (key or name)")
    check.add_argument("--filter", metavar="REGEX", help="only benchmarks matching (re.search)")
    check.add_argument("--json", metavar="FILE", dest="json_out",
                       help="write every classified series as JSON to FILE")
    report = sub.add_parser("report", parents=[judged], help="write the HTML page")
    report.add_argument("out", metavar="OUT.html")
    report.add_argument("--reference", metavar="KEY", help="the machine ratios are to "
                        "(key or name; default: the machine with the most runs)")
    export = sub.add_parser("export", help="one row per result, as CSV or JSON lines")
    export.add_argument("db", metavar="DB")
    out = export.add_mutually_exclusive_group(required=True)
    out.add_argument("--csv", metavar="FILE", help="write CSV to FILE (- for stdout)")
    out.add_argument("--jsonl", metavar="FILE", help="write JSON lines to FILE (- for stdout)")
    return parser


def do_ingest(args) -> int:
    existed = os.path.exists(args.db)
    db = history_db.open_db(args.db, create=True)
    known = history_db.known_digests(db)
    added = already = bad = 0
    try:
        files = []
        for target in args.inputs:
            found = history_db.json_files(target)
            if not found:
                cli.say(PROG, f"{target}: no *.json files in this directory")
                bad += 1
            files += found
        for number, path in enumerate(files, start=1):
            try:
                if history_db.ingest_file(db, path, known):
                    added += 1
                else:
                    already += 1
            except gbench.InputError as err:
                cli.say(PROG, f"{err.path}: {err.problem} (skipped)")
                bad += 1
            if number % COMMIT_EVERY_FILES == 0:
                db.commit()
        db.commit()
    finally:
        db.close()
    if added == 0 and already == 0:
        if not existed:
            os.remove(args.db)      # nothing went in: leave no empty database behind
        cli.say(PROG, f"{args.db}: no run could be read ({bad} bad inputs)")
        return cli.EXIT_BAD_INPUT
    print(f"{PROG}: {args.db}: {added} runs ingested, {already} already there, "
          f"{bad} skipped")
    return cli.EXIT_OK


def machine_of(db, text, flag: str):
    """The machine key ``text`` names (a key, or a readable name naming one machine)."""
    if text is None:
        return None
    machines = dict(db.execute("SELECT DISTINCT machine_key, machine_name FROM runs"))
    if text in machines:
        return text
    named = [key for key, name in machines.items() if name == text]
    if len(named) == 1:
        return named[0]
    listed = "; ".join(sorted(machines))
    raise BadFlag(flag, f"{text!r} names {'several machines' if named else 'no machine'}; "
                        f"the machines are: {listed}")


def judged_history(args, machine=None, name_filter=None):
    """(db, History, Floors) for check and report; bad input for an empty database."""
    floors = history_check.Floors(percent(args.floor, "--floor"),
                                  assignments(args.metric_floor, "--metric-floor"))
    db = history_db.open_db(args.db)
    if db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0:
        raise history_db.HistoryError(args.db, "no runs: ingest some first")
    floors.machine = {machine_of(db, k, "--machine-floor"): v
                      for k, v in assignments(args.machine_floor, "--machine-floor").items()}
    history = history_series.load_history(db, args.repo, machine_of(db, machine, "--machine"),
                                          name_filter)
    if not history.series:
        raise history_db.HistoryError(args.db, "no benchmark of these runs matches "
                                               f"--filter {name_filter.pattern!r}"
                                      if name_filter else "no results in the runs")
    return db, history, floors


def describe(entry) -> str:
    """One line of check's output."""
    flag = entry.flag
    parts = [f"{entry.klass}: {entry.machine_name}: {entry.series.benchmark} "
             f"{entry.series.metric}"]
    if flag and flag.change_pct is not None and entry.klass != history_check.INSUFFICIENT:
        unit = entry.series.unit
        parts.append(f"{flag.change_pct:+.1f}% (baseline median "
                     f"{history_report.fmt_value(flag.median, unit)}, newest "
                     f"{history_report.fmt_value(entry.newest.value, unit)}, "
                     f"threshold {flag.threshold_pct:.1f}%, {len(entry.streak)} runs flagged)")
    if entry.klass == history_check.NEW_ERROR:
        parts.append(f"{entry.newest.status}: {entry.message}")
    if entry.software_change:
        parts.append("changed with " + "; ".join(entry.software_change))
    return " ".join(parts)


def do_check(args) -> int:
    name_filter = None
    if args.filter is not None:
        try:
            name_filter = re.compile(args.filter)
        except re.error as err:
            raise BadFlag("--filter", f"{args.filter!r} is not a regular expression: {err}")
    db, history, floors = judged_history(args, args.machine, name_filter)
    entries = history_check.classify_all(history, floors)
    shown = [e for e in entries if e.klass in (history_check.NEW_ERROR, history_check.REGRESSION,
                                               history_check.SUSPECTED,
                                               history_check.IMPROVEMENT)]
    counts = history_check.counts(entries)
    if args.json_out:
        document = {"database": args.db, "counts": counts,
                    "series": [e.to_json() for e in entries]}
        if cli.write_output(PROG, args.json_out, lambda h: h.write(json.dumps(
                comparison.json_safe(document), indent=1, allow_nan=False) + "\n")):
            return cli.EXIT_BAD_INPUT
    text = "\n".join(describe(e) for e in shown)
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    cli.write_output(PROG, None, lambda h: h.write(
        (text + "\n" if text else "") + f"{len(entries)} series: {summary}\n"))
    db.close()
    return cli.EXIT_REGRESSION if any(e.klass in history_check.FAILING for e in entries) \
        else cli.EXIT_OK


def do_report(args) -> int:
    db, history, floors = judged_history(args)
    reference = machine_of(db, args.reference, "--reference")
    if reference is None:
        reference = max(history.runs, key=lambda m: (len(history.runs[m]), m))
    entries = history_check.classify_all(history, floors)
    page = history_report.build_page(history, entries, reference)
    db.close()
    if cli.write_output(PROG, args.out, lambda h: h.write(page)):
        return cli.EXIT_BAD_INPUT
    print(f"{PROG}: wrote {args.out} ({len(page) / 1e6:.2f} MB)")
    return cli.EXIT_OK


def do_export(args) -> int:
    db = history_db.open_db(args.db)
    target, writer = ((args.csv, history_export.write_csv) if args.csv is not None
                      else (args.jsonl, history_export.write_jsonl))
    status = cli.write_output(PROG, None if target == "-" else target, lambda h: writer(db, h))
    db.close()
    return status


@cli.tool_main(PROG)
def main(argv=None) -> int:
    """Runs one subcommand; returns the exit status (cli.py's)."""
    args = build_parser().parse_args(argv)
    return {"ingest": do_ingest, "check": do_check, "report": do_report,
            "export": do_export}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
