#!/usr/bin/env python3
"""Write a Markdown lab report from one trainbench Google Benchmark JSON run.

What it does: one section per lab part with the measured table in the lab's
own shape

    Part 1  Device | Epoch Time (s) | Samples/s
    Part 2  Batch Size | Epoch Time (s) | Peak Memory (MB) | Test Accuracy
    Part 3  Model Complexity | Training Time (s) | Peak GPU Memory (MB)
            (Peak Host RSS (MB) on CPU) | Parameters (M)
    Part 4  num_workers | Epoch Time (s) | Samples/s [| Data Wait (%)]
            [| Loader Alone (samples/s), from BM_DataLoader]

plus a precision table, a small-models table (BM_TrainStep on cpu, cuda eager
and cuda graph, the launch-bound share and the batch where the GPU overtakes
the CPU) and a host<->device bandwidth table when the run has them, a "Scaling" section
for a run of several ranks (BM_TrainEpoch by ranks with the scaling counters, BM_AllReduce
bandwidth by size), the settings each table was measured with, a warning naming each
benchmark the process was paused in (trainbench's ``perturbed`` counter), the device
context, a list of errored benchmarks, and image links (relative to the report) to the
plots in ``--plots DIR`` that exist.  Points are picked by
``labparts.select_part`` exactly as the plots pick them.  Times are the mean
real time per iteration (one iteration of BM_TrainEpoch is one epoch)
converted to seconds.  Output to ``-o FILE`` or stdout.  Bad input (a file
cli.py refuses, or one with no benchmark of trainbench's families) prints one line on
stderr, exit status 2.

What it deliberately doesn't do: no plotting (run plot.py or lab_outputs.py
first), no comparison between runs (compare.py), no interpretation of the
numbers.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cli  # noqa: E402
import declarations  # noqa: E402
import gbench  # noqa: E402
import labparts  # noqa: E402

PROG = "report"

MEMORY_MEANING = {"peak_alloc_MB": "the GPU caching allocator's peak allocated memory",
                  "host_peak_rss_MB": "the host process's peak resident set size"}


def fmt(value: Optional[float], spec: str = ".3f") -> str:
    """Format a number for a table cell; '-' when missing or not finite."""
    if value is None or not math.isfinite(value):
        return "-"
    return format(value, spec)


def fmt_time(bench: gbench.Benchmark, spec: str = ".3f") -> str:
    """A time cell with its noise where trainbench measured it: '0.512 ±1.2%', and
    ' (noisy)' when the row stopped at --max_seconds above --max_noise (noise_met 0)."""
    cell = fmt(bench.time_s, spec)
    noise = bench.counter("noise_pct")
    if cell == "-" or noise is None:
        return cell
    cell += f" ±{noise:.1f}%"
    if bench.counter("noise_met") == 0:
        cell += " (noisy)"
    return cell


def fmt_pct(fraction: Optional[float]) -> str:
    """A 0..1 fraction as a percentage cell ('91.23%')."""
    return "-" if fraction is None else f"{fraction * 100:.2f}%"


def md_escape(text: str) -> str:
    """Escape characters that would break a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(header: list, rows: list) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(md_escape(h) for h in header) + " |",
             "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def settings_line(selection: labparts.Selection) -> str:
    """Italic line naming the benchmark family, the settings held fixed and the repetitions."""
    counts = {len(b.times_s) for _, b in selection.points}
    reps = ""
    if max(counts) > 1:
        n = f"{min(counts)}" if len(counts) == 1 else f"{min(counts)}-{max(counts)}"
        reps = f"; mean of {n} repetitions"
    return f"_Measured with {selection.describe()}{reps}._"


def part1_section(sel: labparts.Selection) -> str:
    """Part 1 table: Device, Epoch Time (s), Samples/s."""
    rows = [(x, fmt_time(b), fmt(b.counter("samples_per_second"), ".1f"))
            for x, b in sel.points]
    return md_table(["Device", "Epoch Time (s)", "Samples/s"], rows)


def part2_section(sel: labparts.Selection) -> str:
    """Part 2 table: Batch Size, Epoch Time (s), Peak Memory (MB), Test Accuracy."""
    counter, _ = labparts.peak_memory(sel.points, sel.settings.get("device"))
    rows = [(x, fmt_time(b), fmt(b.counter(counter), ".1f") if counter else "-",
             fmt_pct(b.counter("test_acc"))) for x, b in sel.points]
    table = md_table(["Batch Size", "Epoch Time (s)", "Peak Memory (MB)",
                      "Test Accuracy"], rows)
    if counter:
        table += f"\n\nPeak memory is {MEMORY_MEANING[counter]} (`{counter}`)."
    return table


def part3_section(sel: labparts.Selection) -> str:
    """Part 3 table: Model Complexity, Training Time (s), Peak GPU Memory / Host RSS, Parameters."""
    counter, _ = labparts.peak_memory(sel.points, sel.settings.get("device"))
    memory_header = ("Peak Host RSS (MB)" if counter == "host_peak_rss_MB"
                     else "Peak GPU Memory (MB)")
    rows = [(x, fmt_time(b), fmt(b.counter(counter), ".1f") if counter else "-",
             fmt(b.counter("params_M"), ".2f")) for x, b in sel.points]
    return (md_table(["Model Complexity", "Training Time (s)", memory_header,
                      "Parameters (M)"], rows)
            + "\n\nTraining time is per epoch.")


def part4_section(sel: labparts.Selection, benches: Optional[dict] = None) -> str:
    """Part 4 table: num_workers, epoch time, samples/s, data wait and the loader alone.

    Data Wait (%) appears when measured; Loader Alone (samples/s) when the run
    has BM_DataLoader rows with the same batch and pin (``benches`` given): an
    epoch close to its loader's rate is limited by the loader, not the device.
    """
    wait = any(b.counter("data_wait_pct") is not None for _, b in sel.points)
    alone = labparts.loaders_for(sel, benches or {})
    has_alone = bool(alone)
    header = (["num_workers", "Epoch Time (s)", "Samples/s"]
              + (["Data Wait (%)"] if wait else [])
              + (["Loader Alone (samples/s)"] if has_alone else []))
    rows = []
    for x, b in sel.points:
        row = [x, fmt_time(b), fmt(b.counter("samples_per_second"), ".1f")]
        if wait:
            row.append(fmt(b.counter("data_wait_pct"), ".1f"))
        if has_alone:
            a = alone.get(x)
            row.append(fmt(a.counter("samples_per_second") if a else None, ".1f"))
        rows.append(row)
    table = md_table(header, rows)
    if has_alone:
        table += ("\n\nLoader Alone is `BM_DataLoader` with the same batch, workers and pin: "
                  "the loader with no model, the most an epoch can reach.")
    return table


def precision_section(sel: labparts.Selection) -> str:
    """Precision table: time per iteration, samples/s, speed-up over fp32."""
    base = dict(sel.points).get("fp32")
    base_sps = base.counter("samples_per_second") if base else None
    unit = "Epoch" if sel.family == "BM_TrainEpoch" else "Step"
    rows = []
    for x, b in sel.points:
        sps = b.counter("samples_per_second")
        speedup = sps / base_sps if sps and base_sps else None
        rows.append((x, fmt(b.time_s, ".4g"), fmt(sps, ".1f"),
                     fmt(speedup, ".2f") + ("x" if speedup else "")))
    return md_table(["Precision", f"{unit} Time (s)", "Samples/s", "Speed-up vs fp32"], rows)


def declared_section(sel: labparts.Selection) -> str:
    """A part only the run declares (``labparts.new_part``): its varying axis, the time per
    iteration and, where measured, samples/s."""
    rate = any(b.counter("samples_per_second") is not None for _, b in sel.points)
    unit = {"BM_TrainEpoch": "Epoch", "BM_TrainStep": "Step"}.get(sel.family, "Iteration")
    rows = [[x, fmt(b.time_s, ".4g")] + ([fmt(b.counter("samples_per_second"), ".1f")]
                                          if rate else []) for x, b in sel.points]
    return md_table([sel.part.vary, f"{unit} Time (s)"] + (["Samples/s"] if rate else []), rows)


SMALL_MODELS_TITLE = "Why small models may not benefit from a GPU"


def small_models_section(benches: dict, models: tuple = labparts.MODEL_ORDER) -> Optional[str]:
    """BM_TrainStep per model and batch: cpu, cuda eager and cuda graph samples/s.

    The launch-bound share is ``1 - kernel_ms_per_step / step_ms`` of the eager
    cuda step: the part of a step in which the GPU waits for the host to launch
    kernels, which a CUDA graph (one launch per step) removes.  The crossover is
    the smallest measured batch at which the GPU's samples/s beats the CPU's.
    None without BM_TrainStep rows on both devices (fp32, the default suite's).
    Models come in the order ``models`` gives (``labparts.model_order`` of the run).
    """
    table: dict = {}
    for b in benches.values():
        if b.family != "BM_TrainStep" or not labparts.usable(b):
            continue
        if b.axes.get("precision", "fp32") != "fp32":
            continue
        device, graph = b.axes.get("device"), b.axis("graph")
        column = {("cpu", "0"): "cpu", ("cuda", "0"): "eager", ("cuda", "1"): "graph"}.get((device, graph))
        batch = b.axes.get("batch", "0")   # a count in trainbench's names: else not shown
        if column is None or not (batch.isascii() and batch.isdigit()):
            continue
        key = (b.axes.get("model", "?"), int(batch))
        table.setdefault(key, {})[column] = b
    if not any("cpu" in c for c in table.values()) or \
            not any("eager" in c or "graph" in c for c in table.values()):
        return None
    sps = lambda b: b.counter("samples_per_second") if b else None  # noqa: E731
    model_order = {m: i for i, m in enumerate(models)}
    rows = []
    for (model, batch), cols in sorted(table.items(), key=lambda kv: (model_order.get(kv[0][0], len(model_order)), kv[0][1])):
        eager = cols.get("eager")
        share = None
        if eager and eager.counter("kernel_ms_per_step") is not None and eager.counter("step_ms"):
            share = max(0.0, 1.0 - eager.counter("kernel_ms_per_step") / eager.counter("step_ms"))
        rows.append((model, str(batch), fmt(sps(cols.get("cpu")), ".0f"), fmt(sps(eager), ".0f"),
                     fmt(sps(cols.get("graph")), ".0f"),
                     fmt(eager.counter("kernel_ms_per_step") if eager else None, ".3f"),
                     fmt(eager.counter("step_ms") if eager else None, ".3f"),
                     "-" if share is None else f"{100 * share:.1f}%"))
    lines = [md_table(["Model", "Batch", "CPU samples/s", "CUDA eager samples/s",
                       "CUDA graph samples/s", "Kernel ms/step", "Step ms",
                       "Launch-bound share"], rows), ""]
    for model in sorted({m for m, _ in table}, key=lambda m: model_order.get(m, len(model_order))):
        for column, label in (("eager", "eager"), ("graph", "with CUDA graphs")):
            batches = sorted(b for (m, b) in table if m == model)
            measured = [b for b in batches if "cpu" in table[model, b] and column in table[model, b]]
            if not measured:
                continue
            wins = [b for b in measured
                    if (sps(table[model, b][column]) or 0) > (sps(table[model, b]["cpu"]) or 0)]
            lines.append(f"- {model}, {label}: the GPU overtakes the CPU at batch {wins[0]}." if wins else
                         f"- {model}, {label}: the GPU does not overtake the CPU at any measured "
                         f"batch ({', '.join(map(str, measured))}).")
    return "\n".join(lines)


def bandwidth_section(series: dict) -> str:
    """Bandwidth table: one row per direction, memory kind and size."""
    rows = []
    for (direction, pinned), points in series.items():
        for size, gbps in points:
            rows.append((direction, "pinned" if pinned else "pageable",
                         f"{size:,}", gbench.format_bytes(size), fmt(gbps, ".2f")))
    return md_table(["Direction", "Host Memory", "Bytes", "Size", "GB/s"], rows)


SCALING_TITLE = "Scaling"
# The scaling table's counter columns: (counter, header, format).
SCALING_COLUMNS = (
    ("samples_per_second", "Samples/s (all ranks)", ".1f"),
    ("nosync_samples_per_second", "No-sync samples/s", ".1f"),
    ("scaling_efficiency", "Scaling efficiency", ".3f"),
    ("comm_exposed_pct", "Comm exposed (%)", ".1f"),
    ("comm_exposed_sd_pct", "Comm exposed SD (points)", ".1f"),
    ("rank_max_s", "Slowest rank (s)", ".3f"),
    ("rank_min_s", "Fastest rank (s)", ".3f"),
)


def split_settings(settings_list: list) -> tuple:
    """(axes whose value differs between the settings dicts, {axis: value} shared by all)."""
    shared = dict(settings_list[0])
    for settings in settings_list[1:]:
        shared = {k: v for k, v in shared.items() if settings.get(k) == v}
    varying = []
    for settings in settings_list:
        varying += [k for k in settings if k not in shared and k not in varying]
    return varying, shared


def scaling_training_section(groups: list) -> str:
    """BM_TrainEpoch by ranks: one row per configuration and world size."""
    varying, shared = split_settings([settings for settings, _ in groups])
    # The spread needs two epochs per row and a trainbench that reports it: left out where no
    # row has it (the other columns show "-" for a row without them).
    columns = [col for col in SCALING_COLUMNS
               if col[0] != "comm_exposed_sd_pct"
               or any(bench.counter(col[0]) is not None for _, points in groups for _, bench in points)]
    header = varying + ["Ranks"] + [title for _, title, _ in columns]
    rows = []
    for settings, points in groups:
        for ranks, bench in points:
            rows.append([settings.get(k, "-") for k in varying] + [str(ranks)]
                        + [fmt(bench.counter(c), spec) for c, _, spec in columns])
    described = ", ".join([labparts.SCALING_FAMILY]
                          + [f"{k}={v}" for k, v in shared.items()])
    return "\n".join([
        md_table(header, rows), "",
        f"_Measured with {described}; batch is per rank._", "",
        "Samples/s is the global rate over all ranks; no-sync samples/s the same epoch "
        "without gradient sync; scaling efficiency the samples/s over N times that of the "
        "same ranks without gradient sync (1 is perfect); comm exposed the percent of a step "
        "that gradient communication added, and its SD the spread of that share over the "
        "pairs of a timed epoch and its no-sync twin, in percentage points; slowest and "
        "fastest rank their mean epoch "
        "time. A world of one (a name without `ranks`) is ranks 1."])


def scaling_allreduce_section(series: dict) -> str:
    """BM_AllReduce algbw and busbw by size, two columns per world size."""
    sizes = sorted({size for points in series.values() for size, _, _ in points})
    header = ["Bytes", "Size"]
    for ranks in series:
        header += [f"algbw GB/s ({ranks} ranks)", f"busbw GB/s ({ranks} ranks)"]
    rows = []
    for size in sizes:
        row = [f"{size:,}", gbench.format_bytes(size)]
        for points in series.values():
            found = next(((a, b) for s, a, b in points if s == size), (None, None))
            row += [fmt(found[0], ".3f"), fmt(found[1], ".3f")]
        rows.append(row)
    return "\n".join([
        md_table(header, rows), "",
        "algbw is bytes / time per all-reduce; busbw is algbw x 2(R-1)/R for R ranks, as "
        "nccl-tests defines them: what each rank's link carries, comparable across world "
        "sizes."])


def context_section(context: dict) -> str:
    """Table of the device/software context fields the run recorded."""
    rows = [(label, str(context[key])) for key, label, _ in declarations.CONTEXT_FIELDS
            if key in context and context[key] not in (None, "")]
    if isinstance(context.get("load_avg"), list) and context["load_avg"]:
        rows.append(("Load average", ", ".join(f"{v:g}" for v in context["load_avg"]
                                               if gbench.is_number(v))))
    if not rows:
        return "_The run recorded no context._"
    return md_table(["Field", "Value"], rows)


def plot_link(title: str, filename: str, plots_dir: Optional[str],
              report_dir: str) -> Optional[str]:
    """Markdown image link to ``plots_dir/filename`` relative to the report, if the file exists."""
    if not plots_dir:
        return None
    path = os.path.join(plots_dir, filename)
    if not os.path.isfile(path):
        return None
    rel = os.path.relpath(path, start=report_dir).replace(os.sep, "/")
    return f"![{title}]({rel})"


def perturbed_note(benches: dict) -> list:
    """A warning naming each benchmark the process was paused in (its numbers below are
    not comparable), or nothing."""
    paused = [(b.name, b.perturbation()) for b in benches.values() if b.perturbation()]
    if not paused:
        return []
    lines = ["> **Perturbed:** the process was paused while these benchmarks ran; their "
             "numbers below are not comparable:"]
    lines += [f"> - `{name}`: paused {p['pauses']} time(s) for {p['paused_s']:.1f} s"
              for name, p in paused]
    return lines + [""]


def build_report(run: gbench.Run, plots_dir: Optional[str] = None,
                 report_dir: str = ".") -> str:
    """The whole Markdown report for ``run`` as a string."""
    benches = declarations.collect_benchmarks(run)
    out = [f"# trainbench lab report: {run.label}", "",
           f"Source: `{os.path.basename(run.path)}`"
           + (f", {run.context['date']}" if run.context.get("date") else ""), ""]
    if run.context.get("cpu_scaling_enabled") is True:
        out += ["> CPU frequency scaling was enabled during the run; "
                "CPU timings may be noisy.", ""]
    out += perturbed_note(benches)
    renderers = {"part1": part1_section, "part2": part2_section, "part3": part3_section,
                 "part4": functools.partial(part4_section, benches=benches),
                 "precision": precision_section}
    links = []
    # The parts as the run declares them (its lab_parts context), else the fallback table.
    for part in labparts.parts_for(run.context):
        render = renderers.get(part.key, declared_section)
        sel = labparts.select_part(part, benches)
        if sel is None:
            if part.key != "precision":
                out += [f"## {part.title}", "", "_Not measured in this run._", ""]
            continue
        out += [f"## {part.title}", "", render(sel), "", settings_line(sel), ""]
        link = plot_link(part.title, part.filename, plots_dir, report_dir)
        if link:
            out += [link, ""]
            links.append(link)
    small = small_models_section(benches, labparts.model_order(run.context))
    if small:
        out += [f"## {SMALL_MODELS_TITLE}", "", small, ""]
    series = labparts.bandwidth_series(benches)
    if series:
        out += ["## Host-device bandwidth", "", bandwidth_section(series), ""]
        link = plot_link("Host-device bandwidth", labparts.BANDWIDTH_FILENAME,
                         plots_dir, report_dir)
        if link:
            out += [link, ""]
            links.append(link)
    groups = labparts.scaling_groups([benches])
    allreduce = labparts.allreduce_series(benches)
    if groups or allreduce:
        out += [f"## {SCALING_TITLE}", ""]
        for title, body, filename in (
                ("Training by ranks (BM_TrainEpoch)",
                 scaling_training_section(groups) if groups else None,
                 labparts.SCALING_FILENAME),
                ("All-reduce bandwidth (BM_AllReduce)",
                 scaling_allreduce_section(allreduce) if allreduce else None,
                 labparts.ALLREDUCE_FILENAME)):
            if body is None:
                continue
            out += [f"### {title}", "", body, ""]
            link = plot_link(title, filename, plots_dir, report_dir)
            if link:
                out += [link, ""]
                links.append(link)
    out += ["## Device context", "", context_section(run.context), ""]
    errored = [b for b in benches.values() if b.error is not None]
    if errored:
        out += ["## Errored benchmarks", "",
                md_table(["Benchmark", "Error"], [(b.name, b.error) for b in errored]), ""]
    if plots_dir and not links:
        shown = os.path.relpath(plots_dir, start=report_dir).replace(os.sep, "/")
        out += [f"_No plots found in `{shown}`._", ""]
    return "\n".join(out).rstrip() + "\n"


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    return cli.one_run_parser(
        "report.py", "Markdown lab report from one trainbench JSON run.",
        "write the report here instead of stdout",
        plots={"metavar": "DIR", "help": "directory holding plot.py's PNG files to link"})


def write_for(args, run: gbench.Run):
    """What ``-o FILE`` or stdout gets: a function writing the report of ``run`` (plot links
    relative to the report's folder, with ``--plots``) to an open handle.  A run that is not
    trainbench's (``labparts.not_trainbench``) is bad input: there is nothing to report."""
    if problem := labparts.not_trainbench(run):
        raise gbench.InputError(run.path, problem)
    report_dir = os.path.dirname(os.path.abspath(args.output)) if args.output else os.getcwd()
    plots = os.path.abspath(args.plots) if args.plots else None
    text = build_report(run, plots, report_dir)
    return lambda handle: handle.write(text)


@cli.tool_main(PROG)
def main(argv=None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    return cli.one_run_main(PROG, build_parser(), argv, write_for)


if __name__ == "__main__":
    sys.exit(main())
