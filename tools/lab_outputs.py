#!/usr/bin/env python3
"""Write every lab output for one benchmark run next to its JSON file.

What it does: for ``RESULT.json`` it writes, in the same directory,

    RESULT.csv          csv_export.py's table (one row per benchmark run)
    RESULT-plots/*.png  plot.py's figures (missing parts skipped, one stderr line each)
    RESULT.md           report.py's Markdown report, linking the plots

and prints where each one is.  The main benchmark job calls it after the
run.  Bad input (missing, malformed or non-benchmark JSON, no benchmarks, or none of
trainbench's families) prints one line on stderr and exits with status 2 before anything
is written.

What it deliberately doesn't do: no comparison with other runs (compare.py)
and no options: use the individual tools for anything else.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cli  # noqa: E402
import csv_export  # noqa: E402
import gbench  # noqa: E402
import labparts  # noqa: E402
import plot  # noqa: E402
import report  # noqa: E402

PROG = "lab_outputs"


def output_paths(json_path: str) -> dict:
    """{'csv', 'plots', 'report'} paths next to ``json_path`` named after its stem."""
    directory = os.path.dirname(json_path)
    stem = os.path.splitext(os.path.basename(json_path))[0]
    return {"csv": os.path.join(directory, f"{stem}.csv"),
            "plots": os.path.join(directory, f"{stem}-plots"),
            "report": os.path.join(directory, f"{stem}.md")}


def write_outputs(run: gbench.Run, log=None) -> dict:
    """Write CSV, plots and report for ``run``; return the paths (plus 'pngs')."""
    paths = output_paths(run.path)
    csv_export.export(run, paths["csv"])
    paths["pngs"] = plot.make_plots([run], paths["plots"], log=log)
    text = report.build_report(run, paths["plots"],
                               os.path.dirname(os.path.abspath(paths["report"])))
    with open(paths["report"], "w", encoding="utf-8") as handle:
        handle.write(text)
    return paths


@cli.tool_main(PROG)
def main(argv=None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input or unwritable output)."""
    parser = argparse.ArgumentParser(
        prog="lab_outputs.py",
        description="Write RESULT.csv, RESULT-plots/*.png and RESULT.md next to RESULT.json.")
    parser.add_argument("file", metavar="RESULT.json")
    args = parser.parse_args(argv)
    runs = cli.load_runs_for_cli(PROG, [args.file])
    if runs is None:
        return 2
    run = runs[0]
    if problem := labparts.not_trainbench(run):
        raise gbench.InputError(run.path, problem)
    try:
        paths = write_outputs(run)
    except OSError as err:
        print(f"{PROG}: {err.filename or args.file}: cannot write: {err.strerror or err}",
              file=sys.stderr)
        return 2
    print(f"CSV:    {paths['csv']}")
    print(f"Plots:  {paths['plots']}/ ({len(paths['pngs'])} PNG files)")
    for png in paths["pngs"]:
        print(f"        {png}")
    print(f"Report: {paths['report']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
