"""Which benchmarks make up each part of the trainbench lab (shared by plot and report).

What it does: reads the lab parts (CPU vs GPU, batch size, model complexity,
loader workers, precision) from a run's ``lab_parts`` context, which
trainbench writes from its one declaration of the suite (bench/suite/lab_suite.cc):
each part's families, the axis it varies with the declared values, and the
centre configuration the other axes prefer (:func:`parts_for`, in the run's
order; a part the tools have no table for is drawn and reported generically).
Older files without ``lab_parts`` get the table below (``FALLBACK_PARTS``),
which is what trainbench 0.2.0 ran; :func:`model_order` is the order of the
models, from the run's sweeps where it declares them.  :func:`select_part`
picks a part's points out of one run's benchmarks.  The rule: keep the benchmarks of the part's families that
match its fixed axes and, where the part declares values and at least
``min_points`` of them were measured, only those values; group them by the
values of all their other axes, and take the group that covers the most
values of the varying axis (ties: the group matching most of the part's
preferred settings, then the first one seen).  Comparisons within a part
therefore always hold every other setting equal.  :func:`bandwidth_series`
does the same for the host<->device copy benchmarks; :func:`scaling_groups`
and :func:`allreduce_series` for the runs of several ranks (BM_TrainEpoch by
ranks, BM_AllReduce by size).

What it deliberately doesn't do: no plotting, no formatting, no file I/O;
it never merges points from different settings into one series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Optional

import declarations
import gbench
from gbench import Benchmark

# The values trainbench's axes take (common/axes.h), in the lab's order.
MODEL_ORDER = ("Small", "Medium", "Large")
DEVICE_ORDER = ("cpu", "cuda")
PRECISION_ORDER = ("fp32", "tf32", "fp16", "bf16")


@dataclass(frozen=True)
class Part:
    """One lab part: which rows it uses and how its x axis varies."""

    key: str
    title: str
    filename: str
    families: tuple
    vary: str
    fixed: dict = field(default_factory=dict)
    prefer: dict = field(default_factory=dict)
    order: tuple = ()          # categorical x order (empty: numeric x)
    min_points: int = 1        # fewer distinct x values: part not measured
    values: tuple = ()         # the declared values of ``vary`` (empty: any)

    @property
    def numeric(self) -> bool:
        """True when x values are numbers (batch size, workers)."""
        return not self.order


EPOCH_FAMILIES = ("BM_TrainEpoch",)
# What Parts 2 to 4 prefer besides their own settings: a pinned fp32 epoch on the GPU.
GPU_FP32 = {"pin": "1", "device": "cuda", "precision": "fp32"}
PART1 = Part("part1", "Part 1: CPU vs GPU", "part1_cpu_vs_gpu.png", EPOCH_FAMILIES, "device",
             fixed={"model": "Medium", "batch": "64"},
             prefer={"workers": "0", "pin": "0", "precision": "fp32"}, order=DEVICE_ORDER)
PART2 = Part("part2", "Part 2: Batch size effects", "part2_batch_size_effects.png",
             EPOCH_FAMILIES, "batch", prefer={"model": "Medium", "workers": "4", **GPU_FP32})
PART3 = Part("part3", "Part 3: Model complexity", "part3_model_complexity.png",
             EPOCH_FAMILIES, "model", prefer={"batch": "256", "workers": "4", **GPU_FP32},
             order=MODEL_ORDER)
PART4 = Part("part4", "Part 4: DataLoader workers", "part4_num_workers_effect.png",
             EPOCH_FAMILIES, "workers", prefer={"model": "Medium", "batch": "256", **GPU_FP32})
PRECISION = Part("precision", "Training precision", "precision.png",
                 ("BM_TrainEpoch", "BM_TrainStep"), "precision",
                 prefer={"model": "Large", "batch": "256", "workers": "4",
                         "pin": "1", "device": "cuda"},
                 order=PRECISION_ORDER, min_points=2)
LOADER_FAMILY = "BM_DataLoader"  # the loader alone: the ceiling it puts on BM_TrainEpoch
BANDWIDTH_FILENAME = "bandwidth.png"
BANDWIDTH_FAMILIES = (("BM_HostToDevice", "H2D"), ("BM_DeviceToHost", "D2H"))
# Runs of several ranks (data-parallel, rank 0's file): the epochs by world size and the
# all-reduce by size. Drawn and reported only where such rows exist.
SCALING_FAMILY = "BM_TrainEpoch"
SCALING_FILENAME = "scaling.png"
ALLREDUCE_FAMILY = "BM_AllReduce"
ALLREDUCE_FILENAME = "allreduce_busbw.png"

# The parts the report and plots draw, in their order; the fallback for runs without a
# ``lab_parts`` context (trainbench 0.2.0 and older), and where the figure file names and
# minimum point counts live (presentation, not the suite).
FALLBACK_PARTS = (PART1, PART2, PART3, PART4, PRECISION)


# Declared parts the tools present elsewhere rather than as a part of their own: the loader
# alone is Part 4's "Loader Alone" column and dashed floor, the small models' steps are
# report.py's small-models section.
SHOWN_ELSEWHERE = frozenset({"loader", "small_models"})


def declared_parts(context: dict) -> Optional[dict]:
    """The lab parts a run declares in its ``lab_parts`` context, {key: part dict} in the
    run's order, or None when the context has none (or it is not the JSON trainbench
    writes)."""
    entries = declarations.declared_list(context, "lab_parts", "parts")
    if entries is None:
        return None
    return {p["key"]: p for p in entries if isinstance(p.get("key"), str)}


def declared_centre(declared: dict, vary: str) -> dict:
    """A ``lab_parts`` entry's centre without its varying axis, values as strings: the
    settings the part's points prefer."""
    centre = declared.get("centre")
    return {k: str(v) for k, v in centre.items() if k != vary} if isinstance(centre, dict) else {}


def declared_families(declared: dict) -> tuple:
    """A ``lab_parts`` entry's benchmark families (empty where it lists none)."""
    families = declared.get("families")
    return tuple(f for f in families if isinstance(f, str)) if isinstance(families, list) else ()


def declared_values(declared: dict, axis: str) -> tuple:
    """The values a ``lab_parts`` entry's sweeps give ``axis``, as strings (empty: none)."""
    sweeps = declared.get("sweeps")
    return next((tuple(str(v) for v in s["values"]) for s in
                 (sweeps if isinstance(sweeps, list) else ())
                 if isinstance(s, dict) and s.get("axis") == axis
                 and isinstance(s.get("values"), list)), ())


def model_order(context: dict) -> tuple:
    """The models in the lab's order: as the run's declared sweeps list them (the first
    sweep over ``model``), then the models of its ``models`` declaration, then
    ``MODEL_ORDER``'s (the order for older files), each once."""
    order = next((v for p in (declared_parts(context) or {}).values()
                  if (v := declared_values(p, "model"))), ())
    models = declarations.declared_list(context, "models") or []
    order += tuple(str(m["name"]) for m in models if isinstance(m.get("name"), str))
    return tuple(dict.fromkeys(order + MODEL_ORDER))


def part_from_declaration(fallback: Part, declared: dict) -> Part:
    """``fallback`` with the families, varying axis, declared values and centre of a
    ``lab_parts`` entry.  The centre becomes the preferred settings (not fixed ones, so a run
    made with axis flags still finds its points); families the fallback lists beyond the
    declared ones stay as later choices (a BM_TrainStep precision run made by hand)."""
    vary = declared.get("vary")
    vary = vary if isinstance(vary, str) else fallback.vary
    values = declared_values(declared, vary)
    families = declared_families(declared) or fallback.families
    families += tuple(f for f in fallback.families if f not in families)
    centre = declared_centre(declared, vary)
    order = fallback.order
    if order:  # categorical: the declared order first
        order = values + tuple(v for v in order if v not in values)
    return replace(fallback, title=str(declared.get("title", fallback.title)), families=families,
                   vary=vary, fixed={}, prefer=centre, order=order, values=values)


def is_number_text(value: str) -> bool:
    """True for an axis value that reads as a number ("256", "0.5")."""
    try:
        float(value)
    except ValueError:
        return False
    return True


def new_part(declared: dict) -> Part:
    """A part only the run declares (no fallback for it): its key, title, families, varying
    axis, values and centre as declared; its figure is ``<key>.png`` (the key made a plain
    file name); its x axis numeric when every declared value is a number, else categorical
    in the declared order."""
    key = declared["key"]
    vary = str(declared.get("vary", ""))
    values = declared_values(declared, vary)
    numeric = all(is_number_text(v) for v in values)
    # The key names a file in the output directory: never a path (a run file comes from
    # anywhere), so anything but letters, digits, "_" and "-" becomes "_".
    filename = re.sub(r"[^A-Za-z0-9_-]", "_", key) + ".png"
    return Part(key, str(declared.get("title", key)), filename, declared_families(declared),
                vary, prefer=declared_centre(declared, vary),
                order=() if numeric else values, values=values)


def parts_for(context: dict) -> tuple:
    """The parts to draw for a run with this context, in the run's order: each part its
    ``lab_parts`` declares (those in ``FALLBACK_PARTS`` with the fallback's presentation,
    others as :func:`new_part`; ``SHOWN_ELSEWHERE`` left out).  Without a declaration,
    ``FALLBACK_PARTS``."""
    declared = declared_parts(context)
    if declared is None:
        return FALLBACK_PARTS
    fallback = {p.key: p for p in FALLBACK_PARTS}
    return tuple(part_from_declaration(fallback[key], entry) if key in fallback
                 else new_part(entry)
                 for key, entry in declared.items() if key not in SHOWN_ELSEWHERE)


# Every family trainbench runs (bench/families/), the report's sections are made of.
TRAINBENCH_FAMILIES = ("BM_TrainEpoch", "BM_TrainStep", LOADER_FAMILY,
                       *(family for family, _ in BANDWIDTH_FAMILIES), ALLREDUCE_FAMILY)


def not_trainbench(run: gbench.Run) -> Optional[str]:
    """Why ``run`` is not a trainbench run the report can show (none of its benchmarks,
    errored ones included, is of ``TRAINBENCH_FAMILIES`` or a family its parts declare),
    or None."""
    families = set(TRAINBENCH_FAMILIES)
    families.update(f for part in parts_for(run.context) for f in part.families)
    if any(gbench.parse_name(gbench.base_name(row)).family in families for row in run.rows):
        return None
    return ("not a trainbench run: none of its benchmarks is of a family the lab report "
            f"shows ({', '.join(sorted(families))})")


@dataclass
class Selection:
    """The points chosen for a part from one run.

    ``settings`` are the values of the other (non-varying) axes shared by all
    points, ``points`` is a list of (x value string, Benchmark) in x order.
    """

    part: Part
    family: str
    settings: dict
    points: list

    @property
    def xs(self) -> list:
        """The x values as strings, in plotting order."""
        return [x for x, _ in self.points]

    def describe(self) -> str:
        """'BM_TrainEpoch, model=Medium, batch=64' style summary of the fixed settings."""
        pairs = {**self.part.fixed, **self.settings}
        return ", ".join([self.family] + [f"{k}={v}" for k, v in pairs.items()])


def x_sort_key(part: Part, value: str):
    """Sort key for an x value: numeric parts by number, others by known order."""
    if part.numeric:
        try:
            return (0, float(value), value)
        except ValueError:
            return (1, 0.0, value)
    if value in part.order:
        return (0, part.order.index(value), value)
    return (1, 0, value)


def usable(bench: Benchmark) -> bool:
    """True for a benchmark with at least one time sample and no error."""
    return bench.error is None and bool(bench.times_s)


def select_part(part: Part, benchmarks: dict) -> Optional[Selection]:
    """Pick the points of ``part`` from a run's benchmarks (name -> Benchmark).

    Returns None when no usable benchmark of the part's families matches its
    fixed axes and has the varying axis, or when the best group has fewer
    than ``part.min_points`` x values (precision needs two to compare).
    With declared ``part.values``, only those values are points, unless fewer
    than ``min_points`` of them were measured (a run made with axis flags):
    then every value is.
    """
    if part.values:
        sel = _select(part, benchmarks, set(part.values))
        if sel is not None:
            return sel
    return _select(part, benchmarks, None)


def _select(part: Part, benchmarks: dict, values: Optional[set]) -> Optional[Selection]:
    """select_part, keeping only ``values`` of the varying axis (None: all)."""
    groups: dict = {}
    for position, bench in enumerate(benchmarks.values()):
        if bench.family not in part.families or not usable(bench):
            continue
        if part.vary not in bench.axes:
            continue
        if values is not None and bench.axes[part.vary] not in values:
            continue
        if any(bench.axes.get(k) != v for k, v in part.fixed.items()):
            continue
        others = tuple((k, v) for k, v in bench.axes.items()
                       if k != part.vary and k not in part.fixed)
        key = (bench.family, tuple(sorted(others)))
        group = groups.setdefault(key, {"first": position, "others": dict(others),
                                        "points": {}})
        group["points"].setdefault(bench.axes[part.vary], bench)
    if not groups:
        return None

    def score(item):
        (family, _), group = item
        preferred = sum(1 for k, v in part.prefer.items()
                        if group["others"].get(k) == v)
        return (-len(group["points"]), -preferred,
                part.families.index(family), group["first"])

    (family, _), best = min(groups.items(), key=score)
    if len(best["points"]) < part.min_points:
        return None
    points = sorted(best["points"].items(), key=lambda kv: x_sort_key(part, kv[0]))
    return Selection(part=part, family=family, settings=best["others"],
                     points=points)


def loader_alone(benchmarks: dict, batch: Optional[str], workers: Optional[str],
                 pin: Optional[str]) -> Optional[Benchmark]:
    """The usable BM_DataLoader benchmark with these loader settings, or None.

    Axis values are compared as the strings in the names; a missing ``pin``
    (``None``) matches ``pin:0``, as an epoch run without a pin axis is pageable.
    """
    want = {"batch": batch, "workers": workers, "pin": pin or "0"}
    for bench in benchmarks.values():
        if bench.family == LOADER_FAMILY and usable(bench) and all(
                bench.axes.get(k, "0" if k == "pin" else None) == v for k, v in want.items()):
            return bench
    return None


def loaders_for(sel: Selection, benchmarks: dict) -> dict:
    """{workers: BM_DataLoader Benchmark} for a Part 4 selection's points, with its
    batch and pin; worker counts without a usable loader row are left out."""
    found = {x: loader_alone(benchmarks, sel.settings.get("batch"), x, sel.settings.get("pin"))
             for x, _ in sel.points}
    return {x: bench for x, bench in found.items() if bench is not None}


def bandwidth_series(benchmarks: dict) -> dict:
    """Host<->device copy series: {(direction, pinned): [(bytes, GB/s), ...]}.

    direction is "H2D" or "D2H", pinned is True/False.  GB/s is the
    ``GB_per_s`` counter, or bytes / mean time when the counter is missing.
    Points are sorted by size; rows without a numeric ``bytes`` axis are
    skipped.
    """
    series: dict = {}
    for bench in benchmarks.values():
        direction = dict(BANDWIDTH_FAMILIES).get(bench.family)
        if direction is None or not usable(bench):
            continue
        try:
            size = int(float(bench.axes["bytes"]))
        except (KeyError, ValueError, OverflowError):
            continue
        pinned = bench.axes.get("pinned", "0") not in ("0", "false", "False")
        gbps = bench.counter("GB_per_s")
        if gbps is None and bench.time_s:
            gbps = size / bench.time_s / 1e9
        if gbps is None:
            continue
        points = series.setdefault((direction, pinned), {})
        points.setdefault(size, gbps)
    return {key: sorted(points.items()) for key, points in sorted(
        series.items(), key=lambda kv: (kv[0][0] != "H2D", not kv[0][1]))}


def peak_memory(points: list, device: Optional[str] = None) -> tuple:
    """Choose the memory counter for a set of points.

    Returns (counter name, label): ``peak_alloc_MB`` (GPU allocator peak)
    when any point has a positive value for it, else ``host_peak_rss_MB``;
    on ``device == "cpu"`` host RSS comes first.  (None, None) when neither
    exists.
    """
    benches = [b for _, b in points]
    gpu = ("peak_alloc_MB", "Peak GPU memory allocated (MB)")
    host = ("host_peak_rss_MB", "Peak host RSS (MB)")
    order = (host, gpu) if device == "cpu" else (gpu, host)
    for counter, label in order:
        if any((b.counter(counter) or 0) > 0 for b in benches):
            return counter, label
    for counter, label in order:
        if any(b.counter(counter) is not None for b in benches):
            return counter, label
    return None, None


def ranks_of(bench: Benchmark) -> Optional[int]:
    """The world size a benchmark ran in: its ``ranks`` axis, or 1 for a BM_TrainEpoch name
    without one (its ``absent`` axes); None when it has none or it is not a count."""
    try:
        return int(bench.axis("ranks"))
    except (TypeError, ValueError):
        return None


def scaling_groups(runs_benchmarks: list) -> list:
    """BM_TrainEpoch points by world size, grouped by all their other settings.

    ``runs_benchmarks`` is a list of runs' benchmarks (name -> Benchmark): one run, or a
    plain run and runs of 2 and 8 ranks.  Returns [(settings, [(ranks, Benchmark)])]: the
    settings are the other axes (with the value a name without ``graph`` means), the points
    are sorted by ranks, and where two runs have the same settings and ranks the first run's
    is kept; within one run, a ``ranks:1`` row (data-parallel over one GPU) is preferred to the
    plain row without the axis.  Only groups with a point of more than one rank are returned (a plain run alone
    has none), in the order first seen.
    """
    groups: dict = {}
    for benchmarks in runs_benchmarks:
        for bench in benchmarks.values():
            ranks = ranks_of(bench)
            if bench.family != SCALING_FAMILY or not usable(bench) or ranks is None:
                continue
            settings = {k: v for k, v in bench.axes.items() if k != "ranks"}
            for axis in bench.absent:
                if axis != "ranks":
                    settings.setdefault(axis, bench.axis(axis))
            key = tuple(sorted(settings.items()))
            group = groups.setdefault(key, (settings, {}))
            held = group[1].get(ranks)
            # A name that spells out ranks:1 (a GPU run's data-parallel row over one GPU) is
            # that point rather than the plain row beside it in the same run.
            if held is None or (any(held is b for b in benchmarks.values()) and
                                filled(bench) < filled(held)):
                group[1][ranks] = bench
    return [(settings, sorted(points.items())) for settings, points in groups.values()
            if any(ranks > 1 for ranks in points)]


def filled(bench: Benchmark) -> int:
    """How many of the axes its names may lack a benchmark's name lacks (``gbench.filled_axes``
    with the benchmark's own ``absent`` axes)."""
    return gbench.filled_axes(bench.name, {bench.family: bench.absent})


def allreduce_bus_factor(ranks: int) -> float:
    """busbw / algbw of an all-reduce of ``ranks`` ranks: 2(R-1)/R, as nccl-tests has it."""
    return 2.0 * (ranks - 1) / ranks if ranks > 1 else 0.0


def allreduce_series(benchmarks: dict) -> dict:
    """All-reduce series of one run: {ranks: [(bytes, algbw GB/s, busbw GB/s), ...]}.

    algbw and busbw are the ``algbw_GB_per_s`` and ``busbw_GB_per_s`` counters; without
    them, bytes / mean time / 10^9 and that times :func:`allreduce_bus_factor`.  Points are
    sorted by size, series by ranks; rows without numeric ``bytes`` and ``ranks`` axes are
    skipped.
    """
    series: dict = {}
    for bench in benchmarks.values():
        if bench.family != ALLREDUCE_FAMILY or not usable(bench):
            continue
        ranks = ranks_of(bench)
        try:
            size = int(float(bench.axes["bytes"]))
        except (KeyError, ValueError, OverflowError):
            continue
        if ranks is None:
            continue
        algbw = bench.counter("algbw_GB_per_s")
        if algbw is None and bench.time_s:
            algbw = size / bench.time_s / 1e9
        busbw = bench.counter("busbw_GB_per_s")
        if busbw is None and algbw is not None:
            busbw = algbw * allreduce_bus_factor(ranks)
        if algbw is None:
            continue
        series.setdefault(ranks, {}).setdefault(size, (algbw, busbw))
    return {ranks: [(size, a, b) for size, (a, b) in sorted(points.items())]
            for ranks, points in sorted(series.items())}
