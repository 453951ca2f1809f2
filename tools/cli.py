"""The command-line plumbing every tool shares: exit statuses, loading files, one-run parsers,
writing output.

What it does: the tools' conventions for bad input, their own failures and output.  Every
tool's main is wrapped in :func:`tool_main`, the one place that decides the exit status of
what goes wrong:

    0  done;
    1  compare only: the check (--threshold, --fail-on-missing) found a regression;
    2  bad input: one line "<prog>: <path>: <problem>" on stderr (a file that cannot be
       read, is not Google Benchmark output or holds values no tool can use, has no
       benchmarks, an output file that cannot be written, a bad flag value);
    3  the tool failed for a reason of its own (a bug: any other exception), one line
       "<prog>: internal error: ..." on stderr, never a traceback;
  130  interrupted (Ctrl-C), one line.

:func:`load_runs_for_cli` loads the files (a problem is exit status 2); :func:`write_output`
writes ``-o FILE`` or stdout (a reader closing stdout early, ``tool | head``, is not an
error: :func:`quiet_broken_pipe`).  :func:`one_run_parser` and :func:`one_run_main` are the
command line of a tool that turns one run into one output (csv_export.py, report.py).

What it deliberately doesn't do: no reading of the files themselves (gbench.py) and no
tool's own flags.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Optional

import gbench
import strict_json

# The exit statuses of every tool (see the module's docstring).
EXIT_OK, EXIT_REGRESSION, EXIT_BAD_INPUT, EXIT_OWN_FAILURE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


def say(prog: str, message: str) -> None:
    """One line "<prog>: <message>" on stderr, whatever the message holds (line breaks
    become spaces, a lone surrogate ``\\udXXX``)."""
    print(" ".join(strict_json.shown(f"{prog}: {message}").splitlines()), file=sys.stderr)


def tool_main(prog: str):
    """Decorator for a tool's ``main(argv) -> int``: the one place that turns what goes wrong
    into an exit status.  A :class:`gbench.InputError` raised anywhere in the tool is bad
    input: one line "<prog>: <path>: <problem>", status 2.  Any other exception is the tool's
    own failure: one line "<prog>: internal error: <type>: <message> ...", status 3 (never 1,
    compare's "regression found", and never a traceback).  Ctrl-C is one line and 130;
    argparse's own exits (--help, a usage error) pass through."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None) -> int:
            try:
                return main(argv)
            except gbench.InputError as err:
                say(prog, f"{err.path}: {err.problem}")
                return EXIT_BAD_INPUT
            except KeyboardInterrupt:
                say(prog, "interrupted")
                return EXIT_INTERRUPTED
            except BrokenPipeError:
                quiet_broken_pipe()
                return EXIT_OK
            except Exception as err:  # noqa: BLE001 - the point: no exception escapes
                say(prog, f"internal error: {type(err).__name__}: {err} (a bug in {prog}, "
                          "not a problem with the input; please report it)")
                return EXIT_OWN_FAILURE
        return run
    return wrap


def load_runs_for_cli(prog: str, paths: list) -> Optional[list]:
    """Loads every file for a command-line tool. On the first bad one (one that
    ``gbench.load_run`` refuses, or whose "benchmarks" list is empty: nothing to compare,
    export, report or plot), prints "<prog>: <path>: <problem>" (one line) on stderr and
    returns None: exit status 2."""
    try:
        runs = [gbench.load_run(path) for path in paths]
    except gbench.InputError as err:
        say(prog, f"{err.path}: {err.problem}")
        return None
    for run in runs:
        if not run.rows:
            say(prog, f"{run.path}: no benchmarks: the \"benchmarks\" list is empty")
            return None
    return runs


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
            say(prog, f"{path}: cannot write: {err.strerror or err}")
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
