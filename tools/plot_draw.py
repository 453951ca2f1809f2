"""The drawing the lab figures share (plot.py): legends, bars, lines, titles, saving.

What it does: :func:`unique_labels` and :func:`label_selections` turn runs and their
per-part selections into legend labels and a subtitle of the settings they share;
:func:`draw_bars` and :func:`draw_lines` draw [(legend label, [(x, y)])] series;
:func:`time_series` and :func:`memory_series` are the series of seconds per iteration and of
peak memory (MB = 2^20 bytes); :func:`finish` titles, lays out and saves a figure as PNG
(``DPI`` dots per inch).

What it deliberately doesn't do: no choice of what to draw (labparts.py picks the points,
plot.py the figures), no display (Agg backend only).
"""

from __future__ import annotations

from matplotlib.ticker import FuncFormatter, NullFormatter

import labparts

DPI = 100


def unique_labels(runs: list) -> list:
    """One legend label per run; duplicates get the file stem appended."""
    labels = [run.label for run in runs]
    return [f"{label} ({run.stem})" if labels.count(label) > 1 and label != run.stem
            else label for label, run in zip(labels, runs)]


def label_selections(selections: list) -> tuple:
    """Split the settings of per-run selections into shared and per-run parts.

    ``selections`` is [(run label, Selection)].  Returns ([(legend label,
    Selection)], common settings text): settings equal in every selection go
    to the common text (for the title), the others into the run's legend label.
    """
    sels = [sel for _, sel in selections]
    common = dict(sels[0].settings) if sels else {}
    for sel in sels[1:]:
        common = {k: v for k, v in common.items() if sel.settings.get(k) == v}
    labelled = []
    for label, sel in selections:
        extra = " ".join(f"{k}={v}" for k, v in sel.settings.items() if k not in common)
        labelled.append((f"{label} ({extra})" if extra else label, sel))
    fixed = dict(sels[0].part.fixed) if sels else {}
    text = " ".join(f"{k}={v}" for k, v in {**fixed, **common}.items())
    return labelled, text


def xy(selection: labparts.Selection, getter) -> list:
    """[(x, y)] for the points of a selection where ``getter(bench)`` isn't None."""
    out = []
    for x, bench in selection.points:
        y = getter(bench)
        if y is not None:
            out.append((x, y))
    return out


def draw_bars(ax, series: list, categories: list) -> None:
    """Grouped bars: ``series`` is [(legend label, [(category, value)])]."""
    count = max(len(series), 1)
    width = 0.8 / count
    for index, (label, points) in enumerate(series):
        lookup = dict(points)
        xs = [i + (index - (count - 1) / 2) * width
              for i, c in enumerate(categories) if c in lookup]
        ys = [lookup[c] for c in categories if c in lookup]
        ax.bar(xs, ys, width=width, label=label)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels(categories)


def draw_lines(ax, series: list, log2_x: bool = False) -> None:
    """Line plot with markers: ``series`` is [(legend label, [(x string, value)])]."""
    for label, points in series:
        xs = [float(x) for x, _ in points]
        ax.plot(xs, [y for _, y in points], marker="o", label=label)
    if log2_x:
        ax.set_xscale("log", base=2)
        ticks = sorted({float(x) for _, points in series for x, _ in points})
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def category_order(selections: list) -> list:
    """Union of the selections' x values, sorted the (first run's) part's way."""
    values = {x for _, sel in selections for x in sel.xs}
    part = selections[0][1].part
    return sorted(values, key=lambda v: labparts.x_sort_key(part, v))


def finish(fig, title: str, path: str, subtitle: str = "", own_legend=()) -> None:
    """Title, one shared legend below the plots (plus legends on ``own_legend``
    axes, whose series labels differ), layout, and save as PNG."""
    fig.suptitle(title + (f"\n{subtitle}" if subtitle else ""))
    for ax in fig.axes:
        ax.grid(True, alpha=0.3)
        if ax in own_legend and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    handles, labels = [], []
    for ax in fig.axes:
        if ax in own_legend:
            continue
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    bottom = 0.0
    if handles:
        ncol = min(len(labels), 2 if max(len(x) for x in labels) > 40 else 4)
        rows = -(-len(labels) // ncol)
        height = fig.get_figheight()
        bottom = min(0.45, (0.3 * rows + 0.25) / height)
        fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize="small",
                   frameon=False)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    fig.savefig(path, format="png", dpi=DPI)


def memory_series(selections: list) -> tuple:
    """Per-run peak-memory points, the y label, and whether the runs mix kinds.

    Returns ([(legend label, [(x, MB)])], y label, mixed).  The y label says
    GPU allocated or host RSS; when runs differ (a GPU and a CPU run) each
    legend label says which one it is and ``mixed`` is True.
    """
    series, kinds = [], set()
    for label, sel in selections:
        counter, text = labparts.peak_memory(sel.points, sel.settings.get("device"))
        if counter is None:
            continue
        kinds.add(text)
        series.append((label, counter, xy(sel, lambda b, c=counter: b.counter(c))))
    if len(kinds) <= 1:
        return ([(label, pts) for label, _, pts in series],
                kinds.pop() if kinds else "Peak memory (MB)", False)
    named = [(f"{label}: {'GPU allocated' if c == 'peak_alloc_MB' else 'host RSS'}", pts)
             for label, c, pts in series]
    return named, "Peak memory (MB): GPU allocated or host RSS", True


def no_data(ax, what: str) -> None:
    """Mark an empty subplot."""
    ax.text(0.5, 0.5, f"no {what} in these runs", ha="center", va="center",
            transform=ax.transAxes)


def time_series(selections: list) -> list:
    """[(legend label, [(x, epoch/step seconds)])] for the selections."""
    return [(label, xy(sel, lambda b: b.time_s)) for label, sel in selections]


def memory_axis(ax, selections: list, draw) -> bool:
    """Fill a peak-memory subplot; True when it needs its own legend."""
    mem, mem_label, mixed = memory_series(selections)
    if mem:
        draw(ax, mem)
    else:
        no_data(ax, "peak memory counter")
    ax.set_ylabel(mem_label)
    ax.set_title("Peak memory")
    return mixed
