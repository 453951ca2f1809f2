#!/usr/bin/env python3
"""Compare two or more Google Benchmark JSON runs (machines, GPUs, commits).

A baseline (the first file) against each later one: time and counter ratios with their
better/worse direction, Mann-Whitney p-values, the context fields that differ, benchmarks on
one side only, a regression exit status (``--threshold``, ``--fail-on-missing``) and
``--json`` output; with ``--across AXIS`` the benchmarks paired are those whose names differ
only in that axis (a single-process run against one of 8 ranks: ``--across ranks``).
tools/README.md describes the matching, the statistics, the exit
statuses and the flags; ``python3 tools/compare.py --help`` lists the flags.

This file is the command line only (flags, exit statuses, stdout/stderr, the --json file):
the comparison itself is comparison.py's pure functions, its text comparison_text.py's.
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
import comparison  # noqa: E402
import comparison_text  # noqa: E402

PROG = "compare"


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
                             "a counter is NaN or infinite in the run, a higher-is-better "
                             "counter of the baseline is missing from the run or not a "
                             "number there, or a benchmark errored in the run but not in "
                             "the baseline (a time that is not positive and finite, in "
                             "either file, is bad input: exit 2)")
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


def fail(problem: str) -> int:
    """One line "compare: <problem>" on stderr; returns exit status 2 (bad input)."""
    print(f"{PROG}: {problem}", file=sys.stderr)
    return 2


def parse_filter(text: Optional[str]) -> tuple:
    """(compiled --filter regex or None, problem or None)."""
    if text is None:
        return None, None
    try:
        return re.compile(text), None
    except re.error as err:
        return None, f"invalid --filter regex {text!r}: {err}"


def write_json(path: str, document: dict) -> Optional[str]:
    """Write the --json document (strict JSON, NaN as null); a problem line, or None."""
    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(comparison.json_safe(document), handle, indent=2,
                      allow_nan=False, default=str)
            handle.write("\n")
    except (OSError, ValueError) as err:
        return f"{path}: cannot write JSON: {err}"
    return None


def print_text(text: str) -> None:
    """Print the comparison on stdout; a reader that closes it early is not an error."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        cli.quiet_broken_pipe()


@cli.tool_main(PROG)
def main(argv=None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 regression, 2 bad input; 3, the tool's
    own failure, from ``cli.tool_main``)."""
    args = build_parser().parse_args(argv)
    if len(args.files) < 2:
        return fail("need at least two JSON files (baseline and a run to compare)")
    threshold, problem = parse_threshold(args.threshold)
    name_filter, filter_problem = parse_filter(args.filter)
    if problem or filter_problem:
        return fail(problem or filter_problem)
    runs = cli.load_runs_for_cli(PROG, args.files)
    if runs is None:
        return 2
    if args.across is not None and (problem := comparison.across_problem(args.across, runs)):
        return fail(problem)
    reports, problem = comparison.compare_runs(runs, name_filter, args.across)
    if problem:
        return fail(problem)
    checked = threshold is not None or args.fail_on_missing
    regressions = comparison.check_reports(reports, threshold, args.fail_on_missing)
    diffs = comparison.context_differences(runs)
    print_text(comparison_text.format_all(runs, diffs, reports, threshold, checked))
    if args.json_out:
        problem = write_json(args.json_out, comparison.json_document(
            runs, reports, regressions, diffs, threshold, args.fail_on_missing, args.across))
        if problem:
            return fail(problem)
    if regressions:
        print(f"{PROG}: {comparison_text.failure_summary(regressions, threshold)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
