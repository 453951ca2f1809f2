#!/usr/bin/env python3
"""Draw the trainbench lab figures (PNG) from one or more Google Benchmark JSON runs.

What it does: writes into ``-o DIR``

    part1_cpu_vs_gpu.png           epoch time by device (Medium, batch 64)
    part2_batch_size_effects.png   epoch time, peak memory, test accuracy vs batch size
    part3_model_complexity.png     epoch time, peak memory, parameters by model
    part4_num_workers_effect.png   epoch time (and data wait %) vs DataLoader workers,
                                   with BM_DataLoader's epoch time dashed beneath
    precision.png                  samples/s by precision (BM_TrainEpoch or
                                   BM_TrainStep, needs two precisions)
    bandwidth.png                  host<->device GB/s vs transfer size (log x),
                                   pinned vs pageable, H2D and D2H
    scaling.png                    BM_TrainEpoch samples/s (all ranks) and scaling
                                   efficiency vs ranks, one line per configuration,
                                   over all the runs given (a plain run is ranks 1)
    allreduce_busbw.png            BM_AllReduce busbw vs size (log x), one line per
                                   world size

Points come from ``labparts.select_part`` (BM_TrainEpoch rows filtered on the
axes a part fixes, the set of other settings covering most x values); the
settings shared by all runs are the figure's subtitle, the ones that differ
go into the legend.  Several runs are overlaid in one figure, one legend
entry per run (context device_name, else host_name, else the file stem).  A figure whose data is missing from every run is skipped
with one line on stderr, except the two figures of runs of several ranks, which are left
out without a word: a run of one process, the usual one, has none of their rows.  Bad input prints one line on stderr, exit status 2.

Each ``figure_*`` function saves its PNG and returns the matplotlib
``Figure`` (``figure_precision`` returns None when it draws nothing), so
callers and tests can inspect what was plotted.  The drawing they share
(legends, bars, lines, saving) is plot_draw.py's.

What it deliberately doesn't do: no error bars, no interactive display
(Agg backend only), no figure for benchmark families it doesn't know.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter  # noqa: E402

import cli  # noqa: E402
import declarations  # noqa: E402
import gbench  # noqa: E402
import labparts  # noqa: E402
import plot_draw as draw  # noqa: E402

PROG = "plot"


def figure_part1(selections: list, path: str, subtitle: str) -> Figure:
    """Part 1 bar chart: epoch time by device; returns the saved Figure."""
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    draw.draw_bars(ax, draw.time_series(selections), draw.category_order(selections))
    ax.set_xlabel("Device")
    ax.set_ylabel("Epoch time (s)")
    draw.finish(fig, "Part 1: CPU vs GPU - epoch time (BM_TrainEpoch)", path, subtitle)
    return fig


def time_memory_and(selections: list, path: str, subtitle: str, *, title: str, xlabel: str,
                    time_title: str, plot, third: tuple) -> Figure:
    """The three panels Parts 2 and 3 share: epoch time, peak memory and a counter's panel,
    each drawn with ``plot(ax, series)`` against ``xlabel``.  ``third`` is (getter of a
    benchmark's value, counter named where no run has it, y label, panel title).  Returns
    the saved Figure."""
    getter, counter, ylabel, panel_title = third
    fig = Figure(figsize=(16, 5.5))
    ax_time, ax_mem, ax_third = fig.subplots(1, 3)
    plot(ax_time, draw.time_series(selections))
    ax_time.set_ylabel("Epoch time (s)")
    ax_time.set_title(time_title)
    mixed = draw.memory_axis(ax_mem, selections, plot)
    series = [(label, pts) for label, sel in selections if (pts := draw.xy(sel, getter))]
    if series:
        plot(ax_third, series)
    else:
        draw.no_data(ax_third, f"{counter} counter")
    ax_third.set_ylabel(ylabel)
    ax_third.set_title(panel_title)
    for ax in (ax_time, ax_mem, ax_third):
        ax.set_xlabel(xlabel)
    draw.finish(fig, title, path, subtitle, own_legend=(ax_mem,) if mixed else ())
    return fig


def figure_part2(selections: list, path: str, subtitle: str) -> Figure:
    """Part 2: epoch time, peak memory and test accuracy vs batch size; returns the Figure."""
    return time_memory_and(
        selections, path, subtitle, title="Part 2: Batch size effects (BM_TrainEpoch)",
        xlabel="Batch size (samples)", time_title="Epoch time",
        plot=lambda ax, series: draw.draw_lines(ax, series, log2_x=True),
        third=(lambda b: None if b.counter("test_acc") is None else 100.0 * b.counter("test_acc"),
               "test_acc", "Test accuracy (%)", "Test accuracy"))


def figure_part3(selections: list, path: str, subtitle: str) -> Figure:
    """Part 3: epoch time, peak memory and parameters by model; returns the Figure."""
    categories = draw.category_order(selections)
    return time_memory_and(
        selections, path, subtitle, title="Part 3: Model complexity (BM_TrainEpoch)",
        xlabel="Model", time_title="Training time per epoch",
        plot=lambda ax, series: draw.draw_bars(ax, series, categories),
        third=(lambda b: b.counter("params_M"), "params_M", "Parameters (millions)",
               "Parameters"))


def loader_floor(sel: labparts.Selection, benches: dict) -> list:
    """[(workers, seconds)]: BM_DataLoader's time per epoch at each of a Part 4
    selection's worker counts, with its batch and pin: the shortest epoch the
    loader alone allows.  Empty where the run has no such rows."""
    return [(x, bench.time_s) for x, bench in labparts.loaders_for(sel, benches).items()
            if bench.time_s]


def figure_part4(selections: list, path: str, subtitle: str,
                 loader_floors: Optional[list] = None) -> Figure:
    """Part 4: epoch time (and data wait %, if measured) vs DataLoader workers.

    ``loader_floors`` is [(legend label, loader_floor points)]: each is drawn
    dashed, in its run's colour, under the epoch times.  Returns the saved Figure."""
    wait = [(label, pts) for label, sel in selections
            if (pts := draw.xy(sel, lambda b: b.counter("data_wait_pct")))]
    fig = Figure(figsize=(12 if wait else 8, 5))
    axes = fig.subplots(1, 2 if wait else 1)
    ax_time = axes[0] if wait else axes
    draw.draw_lines(ax_time, draw.time_series(selections))
    # The floor shares the epoch-time axis, so the axis reaches down to it (to 0 s in
    # practice): the gap between the two lines is the point, and on a zero-based axis the
    # differences between worker counts are not exaggerated either.
    colours = {line.get_label(): line.get_color() for line in ax_time.get_lines()}
    for label, points in loader_floors or ():
        if points:
            ax_time.plot([float(x) for x, _ in points], [y for _, y in points],
                         linestyle="--", marker=".", color=colours.get(label),
                         label=f"{label}: loader alone (BM_DataLoader)")
    ax_time.set_xlabel("DataLoader workers (num_workers)")
    ax_time.set_ylabel("Epoch time (s)")
    ax_time.set_title("Epoch time")
    if wait:
        draw.draw_lines(axes[1], wait)
        axes[1].set_xlabel("DataLoader workers (num_workers)")
        axes[1].set_ylabel("Data wait (% of epoch)")
        axes[1].set_title("Time waiting for data")
    for ax in fig.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # worker counts are whole
    draw.finish(fig, "Part 4: DataLoader workers (BM_TrainEpoch)", path, subtitle)
    return fig


def figure_precision(selections: list, path: str, subtitle: str) -> Optional[Figure]:
    """Samples/s by precision; returns the Figure, or None (nothing drawn) without
    samples_per_second."""
    series = [(label, pts) for label, sel in selections
              if (pts := draw.xy(sel, lambda b: b.counter("samples_per_second")))]
    if not series:
        return None
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    draw.draw_bars(ax, series, draw.category_order(selections))
    ax.set_xlabel("Precision")
    ax.set_ylabel("Throughput (samples/s)")
    families = sorted({sel.family for _, sel in selections})
    draw.finish(fig, f"Training throughput by precision ({', '.join(families)})", path,
                subtitle)
    return fig


BANDWIDTH_STYLES = {("H2D", True): "-", ("H2D", False): "--",
                    ("D2H", True): "-.", ("D2H", False): ":"}


def bandwidth_lines(runs_series: list) -> list:
    """[(legend label, sizes, GB/s values, line style)] for the bandwidth figure.

    ``runs_series`` is [(run label, labparts.bandwidth_series(...))]; the run
    label prefixes the legend only when several runs are overlaid.
    """
    lines = []
    for label, series in runs_series:
        for (direction, pinned), points in series.items():
            name = f"{direction} {'pinned' if pinned else 'pageable'}"
            if len(runs_series) > 1:
                name = f"{label}: {name}"
            lines.append((name, [b for b, _ in points], [g for _, g in points],
                          BANDWIDTH_STYLES[(direction, pinned)]))
    return lines


def figure_bandwidth(runs_series: list, path: str) -> Figure:
    """GB/s vs transfer size, one line per run, direction and memory kind; returns the Figure."""
    fig = Figure(figsize=(9, 5.5))
    ax = fig.add_subplot()
    for name, sizes, gbps, style in bandwidth_lines(runs_series):
        ax.plot(sizes, gbps, marker="o", linestyle=style, label=name)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(gbench.format_bytes))
    ax.set_xlabel("Transfer size (bytes, log scale)")
    ax.set_ylabel("Bandwidth (GB/s)")
    subtitle = runs_series[0][0] if len(runs_series) == 1 else ""
    draw.finish(fig, "Host-device copy bandwidth (BM_HostToDevice / BM_DeviceToHost)",
                path, subtitle)
    return fig


# The most configurations the scaling figure draws (the colour cycle's length).
MAX_SCALING_LINES = 10


def scaling_lines(groups: list) -> tuple:
    """([(legend label, [(ranks, samples/s)], [(ranks, efficiency)])], shared settings text,
    configurations left out) for the scaling figure, from ``labparts.scaling_groups``.

    The legend names the settings that differ between configurations, the text those they
    share.  Beyond ``MAX_SCALING_LINES`` configurations, those with the most world sizes
    are drawn (ties: the first seen)."""
    dropped = max(0, len(groups) - MAX_SCALING_LINES)
    if dropped:
        keep = sorted(range(len(groups)), key=lambda i: (-len(groups[i][1]), i))
        groups = [groups[i] for i in sorted(keep[:MAX_SCALING_LINES])]
    shared = dict(groups[0][0])
    for settings, _ in groups[1:]:
        shared = {k: v for k, v in shared.items() if settings.get(k) == v}
    lines = []
    for settings, points in groups:
        label = " ".join(f"{k}={v}" for k, v in settings.items() if k not in shared)
        sps = [(r, b.counter("samples_per_second")) for r, b in points
               if b.counter("samples_per_second") is not None]
        eff = [(r, b.counter("scaling_efficiency")) for r, b in points
               if b.counter("scaling_efficiency") is not None]
        lines.append((label or "samples/s", sps, eff))
    return lines, " ".join(f"{k}={v}" for k, v in shared.items()), dropped


def figure_scaling(groups: list, path: str, log=None) -> Figure:
    """Samples/s (all ranks) and scaling efficiency against ranks (log2 x), one line per
    configuration of ``labparts.scaling_groups``; where a configuration has a ranks 1 point,
    a dashed line in its colour is N times that rate.  Returns the saved Figure."""
    lines, subtitle, dropped = scaling_lines(groups)
    if dropped:
        print(f"{PROG}: {labparts.SCALING_FILENAME}: drawing {MAX_SCALING_LINES} of "
              f"{MAX_SCALING_LINES + dropped} configurations (those with most world sizes)",
              file=log if log is not None else sys.stderr)
    fig = Figure(figsize=(13, 5.5))
    ax_sps, ax_eff = fig.subplots(1, 2)
    ideal_labelled = False
    for label, sps, eff in lines:
        [line] = ax_sps.plot([r for r, _ in sps], [v for _, v in sps], marker="o", label=label)
        one = dict(sps).get(1)
        if one is not None and len(sps) > 1:
            ax_sps.plot([r for r, _ in sps], [r * one for r, _ in sps], linestyle="--",
                        color=line.get_color(),
                        label="_nolegend_" if ideal_labelled else "dashed: N x 1 rank's samples/s")
            ideal_labelled = True
        if eff:
            ax_eff.plot([r for r, _ in eff], [v for _, v in eff], marker="o",
                        color=line.get_color(), label=label)
    ax_eff.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    top = max([v for _, _, eff in lines for _, v in eff] + [1.0])
    ax_eff.set_ylim(0, top * 1.05)
    if not any(eff for _, _, eff in lines):
        draw.no_data(ax_eff, "scaling_efficiency counter")
    ranks = sorted({r for _, sps, eff in lines for r, _ in sps + eff})
    for ax in (ax_sps, ax_eff):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ranks)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("Ranks (processes)")
    ax_sps.set_ylabel("Throughput (samples/s, all ranks)")
    ax_sps.set_title("Global throughput")
    ax_eff.set_ylabel("Scaling efficiency (vs no gradient sync)")
    ax_eff.set_title("Scaling efficiency")
    draw.finish(fig, f"Data-parallel scaling ({labparts.SCALING_FAMILY}, batch per rank)",
                path, subtitle)
    return fig


def allreduce_lines(runs_series: list) -> list:
    """[(legend label, sizes, busbw values)] for the all-reduce figure.

    ``runs_series`` is [(run label, labparts.allreduce_series(...))]; the legend is
    "R ranks", with the run label in front where two runs have the same world size."""
    sizes_seen = [ranks for _, series in runs_series for ranks in series]
    lines = []
    for label, series in runs_series:
        for ranks, points in series.items():
            name = f"{ranks} ranks"
            if sizes_seen.count(ranks) > 1:
                name = f"{label}: {name}"
            kept = [(size, bus) for size, _, bus in points if bus is not None]
            lines.append((name, [s for s, _ in kept], [b for _, b in kept]))
    return lines


def figure_allreduce(runs_series: list, path: str) -> Figure:
    """BM_AllReduce busbw against the size (log2 x), one line per run and world size;
    returns the saved Figure."""
    fig = Figure(figsize=(9, 5.5))
    ax = fig.add_subplot()
    for name, sizes, busbw in allreduce_lines(runs_series):
        ax.plot(sizes, busbw, marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FuncFormatter(gbench.format_bytes))
    ax.set_xlabel("All-reduce size (bytes per rank, log scale)")
    ax.set_ylabel("Bus bandwidth, busbw (GB/s)")
    subtitle = runs_series[0][0] if len(runs_series) == 1 else ""
    draw.finish(fig, f"All-reduce bus bandwidth ({labparts.ALLREDUCE_FAMILY}, "
                "busbw = algbw x 2(R-1)/R)", path, subtitle)
    return fig


def figure_declared(selections: list, path: str, subtitle: str) -> Figure:
    """A part only the run declares (``labparts.new_part``): time per iteration, and
    samples/s where measured, against its varying axis (lines for numbers, else bars);
    returns the saved Figure."""
    part = selections[0][1].part
    rate = [(label, pts) for label, sel in selections
            if (pts := draw.xy(sel, lambda b: b.counter("samples_per_second")))]
    fig = Figure(figsize=(12 if rate else 8, 5))
    axes = list(fig.subplots(1, 2)) if rate else [fig.add_subplot()]
    panels = [(axes[0], draw.time_series(selections), "Time per iteration (s)")]
    if rate:
        panels.append((axes[1], rate, "Throughput (samples/s)"))
    categories = draw.category_order(selections)
    numeric = part.numeric and all(labparts.is_number_text(x) for x in categories)
    for ax, series, ylabel in panels:
        if numeric:
            draw.draw_lines(ax, series)
        else:
            draw.draw_bars(ax, series, categories)
        ax.set_xlabel(part.vary)
        ax.set_ylabel(ylabel)
    families = sorted({sel.family for _, sel in selections})
    draw.finish(fig, f"{part.title} ({', '.join(families)})", path, subtitle)
    return fig


def describe_missing(part: labparts.Part) -> str:
    """One-line reason a part's figure is skipped."""
    needed = (f"at least {part.min_points} '{part.vary}' values" if part.min_points > 1
              else f"a '{part.vary}' axis")
    fixed = " ".join(f"{k}={v}" for k, v in part.fixed.items())
    where = f" with {fixed} and {needed}" if fixed else f" with {needed}"
    return f"no usable {' or '.join(part.families)} benchmark{where}"


def drawer_for(key: str):
    """The figure function of a part: the lab's own for the parts of the fallback table,
    :func:`figure_declared` for a part only the run declares.  (Looked up at each call, so
    tests can wrap a figure function.)"""
    drawers = {"part1": figure_part1, "part2": figure_part2, "part3": figure_part3,
               "part4": figure_part4, "precision": figure_precision}
    return drawers.get(key, figure_declared)


def parts_by_key(runs: list) -> dict:
    """{part key: [each run's Part with that key, or None]}: every part any run has (as it
    declares it in its lab_parts context, else the fallback table), in the first run's
    order, then the parts only later runs have."""
    run_parts = [{p.key: p for p in labparts.parts_for(run.context)} for run in runs]
    keys = dict.fromkeys(key for parts in run_parts for key in parts)
    return {key: [parts.get(key) for parts in run_parts] for key in keys}


def plot_part(parts: list, labels: list, benches: list, out_dir: str, log) -> Optional[str]:
    """Draw one part over the runs (``parts``: each run's Part or None); the PNG's path, or
    None after one line on ``log`` saying why it is skipped."""
    first = next(p for p in parts if p is not None)
    # The skip line names what the fallback table asks for, where it has the part.
    shown = next((p for p in labparts.FALLBACK_PARTS if p.key == first.key), first)
    path = os.path.join(out_dir, first.filename)
    picked = [(label, sel, b) for label, b, part in zip(labels, benches, parts)
              if part is not None and (sel := labparts.select_part(part, b)) is not None]
    if not picked:
        print(f"{PROG}: skipping {first.filename}: {describe_missing(shown)}", file=log)
        return None
    selections, subtitle = draw.label_selections([(label, sel) for label, sel, _ in picked])
    extra = {}
    if first.key == "part4":
        # label_selections keeps the order, so the labels pair up with picked.
        extra["loader_floors"] = [(label, loader_floor(sel, b)) for (label, _), (_, sel, b)
                                  in zip(selections, picked)]
    if drawer_for(first.key)(selections, path, subtitle, **extra) is None:
        print(f"{PROG}: skipping {first.filename}: no samples_per_second counter "
              f"in the {first.vary} benchmarks", file=log)
        return None
    return path


def make_plots(runs: list, out_dir: str, log=None) -> list:
    """Write every figure that has data into ``out_dir``; return the written paths.

    Skipped figures get one line each on ``log`` (default: stderr).
    """
    log = log if log is not None else sys.stderr
    os.makedirs(out_dir, exist_ok=True)
    labels = draw.unique_labels(runs)
    benches = [declarations.collect_benchmarks(run) for run in runs]
    written = [path for parts in parts_by_key(runs).values()
               if (path := plot_part(parts, labels, benches, out_dir, log)) is not None]
    path = os.path.join(out_dir, labparts.BANDWIDTH_FILENAME)
    bandwidth = [(label, s) for label, b in zip(labels, benches)
                 if (s := labparts.bandwidth_series(b))]
    if bandwidth:
        figure_bandwidth(bandwidth, path)
        written.append(path)
    else:
        print(f"{PROG}: skipping {labparts.BANDWIDTH_FILENAME}: no usable "
              "BM_HostToDevice or BM_DeviceToHost benchmark with a 'bytes' axis",
              file=log)
    # Runs of several ranks only; a run of one process has none of these rows (no line).
    groups = labparts.scaling_groups(benches)
    if groups:
        path = os.path.join(out_dir, labparts.SCALING_FILENAME)
        figure_scaling(groups, path, log=log)
        written.append(path)
    # World sizes above one: one rank's all-reduce moves nothing (busbw 0 by definition).
    allreduce = [(label, s) for label, b in zip(labels, benches)
                 if (s := {r: p for r, p in labparts.allreduce_series(b).items() if r > 1})]
    if allreduce:
        path = os.path.join(out_dir, labparts.ALLREDUCE_FILENAME)
        figure_allreduce(allreduce, path)
        written.append(path)
    return written


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    parser = argparse.ArgumentParser(
        prog="plot.py", description="trainbench lab figures (PNG) from Google Benchmark JSON runs.")
    parser.add_argument("files", nargs="+", metavar="RUN.json",
                        help="one or more runs; several runs are overlaid")
    parser.add_argument("-o", "--output-dir", metavar="DIR", default="plots",
                        help="directory for the PNG files (default: plots)")
    return parser


@cli.tool_main(PROG)
def main(argv=None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    runs = cli.load_runs_for_cli(PROG, args.files)
    if runs is None:
        return 2
    try:
        written = make_plots(runs, args.output_dir)
    except OSError as err:
        print(f"{PROG}: {args.output_dir}: cannot write plots: {err.strerror or err}",
              file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
