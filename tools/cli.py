"""The command-line plumbing every tool shares: loading files, one-run parsers, writing output.

What it does: the tools' conventions for bad input and output.  A file that cannot be read,
or is not Google Benchmark output, is one line "<prog>: <path>: <problem>" on stderr and exit
status 2 (:func:`load_runs_for_cli`); so is an output file that cannot be written
(:func:`write_output`); a reader closing stdout early (``tool | head``) is not an error
(:func:`quiet_broken_pipe`).  :func:`one_run_parser` and :func:`one_run_main` are the command
line of a tool that turns one run into one output (csv_export.py, report.py).

What it deliberately doesn't do: no reading of the files themselves (gbench.py) and no
tool's own flags.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

import gbench


def load_runs_for_cli(prog: str, paths: list) -> Optional[list]:
    """Loads every file for a command-line tool. On the first bad one, prints
    "<prog>: <path>: <problem>" (one line) on stderr and returns None: exit status 2."""
    try:
        return [gbench.load_run(path) for path in paths]
    except gbench.InputError as err:
        print(f"{prog}: {err.path}: {err.problem}", file=sys.stderr)
        return None


def one_run_parser(prog: str, description: str, output_help: str,
                   **flags) -> argparse.ArgumentParser:
    """The command line of a tool that turns one run into one output: RUN.json, ``-o FILE``
    (``output_help``; stdout without it), and for each keyword ``name=keywords`` of ``flags``
    the tool's own flag ``--name`` (``parser.add_argument``'s keywords)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("file", metavar="RUN.json")
    parser.add_argument("-o", "--output", metavar="FILE", help=output_help)
    for name, keywords in flags.items():
        parser.add_argument(f"--{name}", **keywords)
    return parser


def one_run_main(prog: str, parser: argparse.ArgumentParser, argv, writer) -> int:
    """The main of a one_run_parser tool: parses ``argv``, loads the run and writes
    ``writer(args, run)`` (a function of the open handle) with :func:`write_output`.
    Returns the exit status: 0, or 2 once one line on stderr has said why the file cannot be
    read (:func:`load_runs_for_cli`) or the output written (:func:`write_output`)."""
    args = parser.parse_args(argv)
    runs = load_runs_for_cli(prog, [args.file])
    if not runs:
        return 2
    return write_output(prog, args.output, writer(args, runs[0]))


def write_output(prog: str, path: Optional[str], write) -> int:
    """Calls ``write(handle)`` with the file ``path`` open for writing (UTF-8, no newline
    translation), or with stdout when ``path`` is empty.  Returns the exit status: 0, or 2
    after one line "<prog>: <path>: cannot write: <reason>" on stderr.  A reader that closes
    stdout early (``tool | head``) is not an error."""
    if path:
        try:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                write(handle)
        except OSError as err:
            print(f"{prog}: {path}: cannot write: {err.strerror or err}", file=sys.stderr)
            return 2
        return 0
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_broken_pipe()
    return 0


def quiet_broken_pipe() -> None:
    """After a BrokenPipeError on stdout (``tool | head``): point stdout at
    /dev/null so the interpreter's final flush doesn't print a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
