"""The history page's trend charts: one inline SVG per benchmark family and machine.

What it does: :func:`family_charts` picks, for each family and machine, the series worth
drawing (the judged ones first, then each benchmark's time, at most ``MAX_LINES`` lines over
the newest ``MAX_POINTS`` runs), finds their change points over the whole series
(history_changepoints.py) and draws them with matplotlib as SVG text: each value relative
to its series' median, a dashed vertical line labelled with what changed wherever the
software changed (LibTorch, CUDA, cuDNN, driver, trainbench version, build), a triangle at
each change point and a cross where a run errored.  Each chart comes with what the page's
script needs to name the run under the pointer (the axes' place and the runs' commits and
dates).

What it deliberately doesn't do: no page (history_report.py), no judging (history_check.py).
"""

from __future__ import annotations

import io
import re
import statistics
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import gbench  # noqa: E402
import history_changepoints  # noqa: E402
import history_check  # noqa: E402
import history_db  # noqa: E402
import history_series  # noqa: E402

MAX_LINES = 8               # series per chart: more is unreadable
MAX_POINTS = 300            # newest runs per chart: keeps the page small and quick to paint
MAX_CHANGE_LABELS = 12      # software-change labels per chart; the lines are all drawn
FIGURE_SIZE_IN = (9.0, 3.6)
COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]

# SVG text as text (not glyph paths): a fraction of the size; a fixed salt so that the same
# data gives the same file.
SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "trainbench-history", "font.size": 8}


@dataclass
class Chart:
    chart_id: str
    family: str
    machine: str
    machine_name: str
    svg: str
    meta: dict                                   # for the page's script
    notes: list = field(default_factory=list)    # change points, as sentences
    series: list = field(default_factory=list)   # (benchmark, metric) drawn
    shared: str = ""                             # the axes every line has


def short_label(series: history_series.Series) -> str:
    """The benchmark without its family, and the metric: 'batch:64/model:Small time'."""
    rest = series.benchmark[len(series.family):].strip("/") or series.benchmark
    return f"{rest} {series.metric}"


def legend_labels(chosen: list) -> tuple:
    """(a label per series, the settings all of them share): only the axes that differ
    between the lines of one chart, so that the legend stays short."""
    axes = [gbench.parse_name(s.benchmark).axes for s in chosen]
    shared = {k: v for k, v in (axes[0].items() if axes else ()) if all(a.get(k) == v for a in axes)}
    labels = []
    for series, own in zip(chosen, axes):
        differing = "/".join(f"{k}:{v}" for k, v in own.items() if k not in shared)
        labels.append(f"{differing} {series.metric}".strip())
    return labels, "/".join(f"{k}:{v}" for k, v in shared.items())


def pick_series(history, family: str, machine: str, judged: dict) -> list:
    """The series of one chart: judged ones (classified other than unchanged) first, then
    every benchmark's time, in name order; at most MAX_LINES."""
    mine = [s for (m, _, _), s in history.series.items() if m == machine and s.family == family]
    first = [s for s in mine if judged.get((s.machine, s.benchmark, s.metric)) not in
             (None, history_check.UNCHANGED, history_check.INSUFFICIENT,
              history_check.NOT_MEASURED)]
    first.sort(key=lambda s: history_check.CLASSES.index(judged[(s.machine, s.benchmark,
                                                                  s.metric)]))
    chosen = {id(s) for s in first}
    rest = sorted((s for s in mine if s.metric == history_db.TIME_METRIC and id(s) not in chosen),
                  key=lambda s: s.benchmark)
    return (first + rest)[:MAX_LINES]


def step_notes(series, runs: list, changes: dict) -> list:
    """(position, sentence) for each change point of a series (its ok, clean points)."""
    points = [p for p in series.points if p.status == history_db.STATUS_OK and not p.run.dirty]
    values = [p.value for p in points]
    notes = []
    for index in history_changepoints.change_points(values):
        before = statistics.median(values[max(0, index - 10):index])
        after = statistics.median(values[index:index + 10])
        pct = (after - before) / abs(before) * 100.0 if before else 0.0
        point = points[index]
        # The software change that came with the step: at its run or since the point before.
        change = [c for pos in range(points[index - 1].position + 1, point.position + 1)
                  for c in changes.get(pos, [])]
        why = f", changed with {'; '.join(change)}" if change else ""
        notes.append((point.position,
                      f"{short_label(series)}: step of {pct:+.1f}% at {point.run.date[:10]} "
                      f"(commit {point.run.commit or 'unknown'}){why}"))
    return notes


def _svg_text(figure, chart_id: str) -> str:
    """The figure as SVG to inline: no XML prolog, ids unique to this chart."""
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    text = text[text.index("<svg"):]
    # matplotlib's ids (clip paths, markers) are unique within one file only.
    text = re.sub(r'id="([^"]+)"', rf'id="{chart_id}-\1"', text)
    text = re.sub(r'url\(#([^)]+)\)', rf'url(#{chart_id}-\1)', text)
    return re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{chart_id}-\1"', text)


def draw(chart_id: str, title: str, lines: list, window: list, changes: list,
         steps: list) -> tuple:
    """(svg, meta) of one chart.  ``lines``: [(label, [(position, value or None)])];
    ``window``: the runs drawn; ``changes``: [(position, [what changed])]; ``steps``:
    [(line index, position)] change points."""
    with plt.rc_context(SVG_STYLE):
        figure, axes = plt.subplots(figsize=FIGURE_SIZE_IN)
        low = window[0].position
        for index, (label, points) in enumerate(lines):
            colour = COLOURS[index % len(COLOURS)]
            ok = [(x, v) for x, v in points if v is not None]
            median = statistics.median(v for _, v in ok) if ok else 1.0
            scale = 1.0 / median if median else 1.0
            axes.plot([x for x, _ in ok], [v * scale for _, v in ok], lw=1.0, color=colour,
                      label=label)
            failed = [x for x, v in points if v is None]
            if failed:
                axes.plot(failed, [1.0] * len(failed), "x", color=colour, ms=5)
            marks = [x for line, x in steps if line == index]
            values = dict(ok)
            axes.plot(marks, [values[x] * scale for x in marks], "v", color=colour, ms=7,
                      markeredgecolor="black")
        for number, (position, what) in enumerate(changes):
            axes.axvline(position - 0.5, color="grey", ls="--", lw=0.8)
            if number < MAX_CHANGE_LABELS:
                axes.text(position - 0.5, 1.0, " " + "; ".join(what), rotation=90, va="top",
                          ha="right", fontsize=6, color="dimgrey",
                          transform=axes.get_xaxis_transform())
        axes.set_xlim(low - 0.5, window[-1].position + 0.5)
        axes.set_title(title)
        axes.set_xlabel("run (in commit order; hover for commit and date)")
        axes.set_ylabel("relative to the series median")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        figure.tight_layout()
        box = axes.get_position()
        xmin, xmax = axes.get_xlim()
        svg = _svg_text(figure, chart_id)
        plt.close(figure)
    meta = {"x0": box.x0, "x1": box.x1, "xmin": xmin, "xmax": xmax,
            "runs": {str(r.position): [r.commit or "unknown", r.date,
                                       ", ".join(f"{history_series.software_label(k)} {v}"
                                                 for k, v in r.software.items() if v)]
                     for r in window}}
    return svg, meta


def family_charts(history, entries: list) -> list:
    """One :class:`Chart` per family and machine with a series, in machine then family order."""
    judged = {(e.series.machine, e.series.benchmark, e.series.metric): e.klass for e in entries}
    families: dict = {}
    for (machine, _, _), series in history.series.items():
        families.setdefault(machine, set()).add(series.family)
    charts = []
    for machine, runs in history.runs.items():
        window = runs[-MAX_POINTS:]
        if not window:
            continue
        low = window[0].position
        changes = {pos: what for pos, what in history_series.software_changes(runs)}
        shown_changes = [(p, w) for p, w in sorted(changes.items()) if p >= low]
        for family in sorted(families.get(machine, ())):
            chosen = pick_series(history, family, machine, judged)
            labels, shared = legend_labels(chosen)
            lines, steps, notes = [], [], []
            for index, (series, label) in enumerate(zip(chosen, labels)):
                points = [(p.position, p.value if p.status == history_db.STATUS_OK else None)
                          for p in series.points if p.position >= low]
                lines.append((label, points))
                for position, note in step_notes(series, runs, changes):
                    notes.append(note)
                    if position >= low:
                        steps.append((index, position))
            chart_id = f"chart-{len(charts) + 1}"
            name = history.names[machine]
            svg, meta = draw(chart_id, f"{family} on {name}", lines, window, shown_changes,
                             steps)
            charts.append(Chart(chart_id, family, machine, name, svg, meta, notes,
                                [(s.benchmark, s.metric) for s in chosen], shared))
    return charts
