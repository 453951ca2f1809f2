#!/usr/bin/env python3
"""How history.py scales: ingest, check and report on synthetic histories, and the page's
first paint in headless chromium.  A benchmark to run by hand, not a timed test:

    .venv/bin/python tools/history_bench.py [--runs 500,1000,2000] [--work DIR]

The runs are built from the real GPU-sweep layout (history_synthetic.py: 40 benchmarks of
the default sweep, 9 counters each besides the time, so 10 metrics) on 4 GPU models, 1%
noise, one injected step.  For each size it prints the seconds of each command, the report's
size and the first paint (ms) of the page in Debian's chromium (skipped, with a note, when
chromium, chromedriver or selenium is not there).  Exit statuses are cli.py's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cli  # noqa: E402
import history  # noqa: E402
import history_synthetic as synthetic  # noqa: E402

PROG = "history_bench"
MACHINES = ("h100", "a100", "l4", "rtx4090")
BENCHMARKS, COUNTERS = 40, 9        # 40 benchmarks x (time + 9 counters) = 10 metrics
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def timed(argv: list) -> float:
    """Seconds one history.py command took; its exit status must be 0 or 1 (check)."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):     # the figures are the output
        status = history.main(argv)
    if status not in (0, 1):
        raise RuntimeError(f"history.py {argv[0]} exited {status}")
    return time.perf_counter() - start


def first_paint_ms(path: str):
    """The page's first paint in headless chromium, or None when no browser is here."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.get("file://" + os.path.abspath(path))
        for _ in range(100):
            paint = driver.execute_script(
                "return performance.getEntriesByType('paint').map(e => e.startTime)")
            if paint:
                return min(paint)
            time.sleep(0.05)
        return None
    finally:
        driver.quit()


def measure(work: str, runs: int, names: list) -> dict:
    folder = os.path.join(work, f"runs-{runs}")
    per_machine = runs // len(MACHINES)
    synthetic.write_history(folder, machines=MACHINES, runs=per_machine, benchmarks=names,
                            max_counters=COUNTERS, steps=[("a100", names[3], "time",
                                                           per_machine - 2, 1.1)])
    db, page = os.path.join(work, f"h-{runs}.sqlite"), os.path.join(work, f"h-{runs}.html")
    figures = {"runs": per_machine * len(MACHINES)}
    figures["ingest_s"] = timed(["ingest", db, folder])
    figures["check_s"] = timed(["check", db, "--json", os.path.join(work, f"c-{runs}.json")])
    figures["report_s"] = timed(["report", db, page])
    figures["report_MB"] = os.path.getsize(page) / 1e6
    figures["first_paint_ms"] = first_paint_ms(page)
    shutil.rmtree(folder)
    return figures


@cli.tool_main(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="history_bench.py", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="500,1000,2000", metavar="N,N,...",
                        help="total runs of each history (over 4 machines)")
    parser.add_argument("--work", metavar="DIR", help="where to write (default: a temp dir)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(n) for n in args.runs.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 4 * len(MACHINES):
        cli.say(PROG, f"--runs: {args.runs!r} is not a list of numbers >= {4 * len(MACHINES)}")
        return cli.EXIT_BAD_INPUT
    names = synthetic.bench_names(limit=BENCHMARKS)
    work = args.work or tempfile.mkdtemp(prefix="history-bench-")
    os.makedirs(work, exist_ok=True)
    print(f"{len(names)} benchmarks x {COUNTERS + 1} metrics, {len(MACHINES)} machines; in {work}")
    print("runs  ingest_s  check_s  report_s  report_MB  first_paint_ms")
    for size in sizes:
        f = measure(work, size, names)
        paint = "n/a" if f["first_paint_ms"] is None else f"{f['first_paint_ms']:.0f}"
        print(f"{f['runs']:4d}  {f['ingest_s']:8.1f}  {f['check_s']:7.1f}  {f['report_s']:8.1f}"
              f"  {f['report_MB']:9.2f}  {paint:>14}", flush=True)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
