"""What trainbench's counters, axes and context fields mean: read from the run, else the
tables here.

What it does: a trainbench run declares, in its JSON context, what its numbers mean. Each
declaration is a context key whose value is a JSON *string* (Google Benchmark's context holds
strings):

  * ``"counters"``: ``{"counters": [{"name", "unit", "better", "families", "meaning"}]}``,
    ``better`` being "higher", "lower" or "neither" (bench/families/counters.cc);
  * ``"axes"``: ``{"axes": [{"name", "families", "absent", "help"}]}``, ``absent`` being the
    value a name without the axis means, or null where a name always has it
    (bench/suite/axis_table.cc);
  * ``"models"``: ``{"models": [{"name", "parameters", "layers": [...]}]}`` (read by
    pytorch_baseline.py's check), and ``"lab_parts"`` (read by labparts.py).

:func:`counter_direction` and :func:`counter_unit` take a counter's direction and unit from
the first context given that declares it; :func:`added_axes` the axes a family's names may
lack. Files without a declaration (runs of trainbench before it wrote them, other Google
Benchmark programs) get the fallback tables below, which are what trainbench 0.2.x meant.
:func:`merged_added_axes` is the axes of runs compared together.
:func:`collect_benchmarks` is ``gbench.collect_benchmarks`` with the run's own added axes
and trainbench's counter renames. ``CONTEXT_FIELDS`` is the context the tools show.

What it deliberately doesn't do: no file I/O, no formatting; generic Google Benchmark
reading lives in gbench.py, lab parts in labparts.py.
"""

from __future__ import annotations

import functools
from typing import Optional

import gbench
import strict_json

# ---- fallback tables: for files whose context declares no "counters" / "axes" ----------

# Counters of a run with several ranks. BM_TrainEpoch/.../ranks:N: samples_per_second is the
# global rate over all ranks; scaling_efficiency (a fraction, about 0..1) is it over N times
# the samples/s of the same ranks training without gradient sync; nosync_samples_per_second is
# the global samples/s of the same epoch without gradient sync; comm_exposed_pct, the percent
# of a step that gradient communication added (may be slightly negative from noise);
# rank_max_s and rank_min_s, the slowest and the fastest rank's mean epoch time in seconds;
# ddp_buckets, the gradient buckets after DDP's rebuild (a count: neither direction is better).
# BM_AllReduce/bytes:B/ranks:N: algbw_GB_per_s and busbw_GB_per_s, in GB/s (busbw = algbw x
# 2(N-1)/N, as nccl-tests defines them).
HIGHER_IS_BETTER = frozenset({
    "samples_per_second", "test_acc", "tflops", "GB_per_s", "pcie_peak_pct",
    "step_span_pct", "gpu_kernel_busy_pct", "nvml_util_pct", "mfu_pct",
    "scaling_efficiency", "nosync_samples_per_second", "algbw_GB_per_s", "busbw_GB_per_s",
})
LOWER_IS_BETTER = frozenset({
    "time", "real_time", "cpu_time", "peak_alloc_MB", "peak_reserved_MB",
    "host_peak_rss_MB", "train_loss", "wall_s_per_epoch", "data_wait_pct",
    "step_ms", "kernel_ms_per_step", "amp_skipped_steps",
    "comm_exposed_pct", "rank_max_s", "rank_min_s",
})
NEUTRAL = frozenset({"params_M", "ddp_buckets", "perturbed", "paused_s"})

# Counters renamed since an earlier trainbench release: old name -> current name. Rows are
# read under the current name, so an old run and a new one compare counter for counter.
# gpu_busy_pct timed the span between per-step events, not GPU work (0.1.0).
RENAMED_COUNTERS = {"gpu_busy_pct": "step_span_pct"}

# Axes a family's names may lack: family -> {axis: the value a name without it means}, in
# the order the axes come in a name, at its end. graph (0.2.0): names without it ran eagerly,
# as graph:0 does. ranks: a world of one process (a run without a launcher) writes no ranks
# axis, as every run before data-parallel training did; it means ranks:1.
FALLBACK_ADDED_AXES = {"BM_TrainEpoch": {"graph": "0", "ranks": "1"},
                       "BM_TrainStep": {"graph": "0"}}

# A declaration's "better" -> the tools' direction ("neither": shown, never judged).
BETTER = {"higher": gbench.HIGHER, "lower": gbench.LOWER, "neither": gbench.NEUTRAL_DIRECTION}

# The run context the tools show, in order: (key, label, compared). report.py lists every
# field a run has; compare.py those with compared=True whose values differ between runs (a
# date or an executable path always differs and says nothing about the numbers).
CONTEXT_FIELDS = (
    ("device_name", "Device", True),
    ("gpu_architecture", "GPU architecture", True),
    ("compute_capability", "Compute capability", True),
    ("sm_count", "SMs", True),
    ("max_sm_clock_MHz", "Max SM clock (MHz)", True),
    ("peak_tflops_fp32", "Dense peak fp32 (TFLOPS)", True),
    ("peak_tflops_tf32", "Dense peak tf32 (TFLOPS)", True),
    ("peak_tflops_fp16", "Dense peak fp16 (TFLOPS)", True),
    ("peak_tflops_bf16", "Dense peak bf16 (TFLOPS)", True),
    ("gpu_memory_MB", "GPU memory (MB)", True),
    ("cuda_driver_version", "CUDA driver", True),
    ("cuda_runtime_version", "CUDA runtime", True),
    ("cudnn_version", "cuDNN", True),
    ("pcie_link", "PCIe link", True),
    ("libtorch_version", "LibTorch", True),
    ("adam", "Adam update", True),
    ("channels_last", "channels_last", True),
    ("cudnn_benchmark", "cuDNN autotuning", True),
    ("pcie_link_current", "PCIe link under load", True),
    ("nvlinks_active", "NVLinks up", True),
    ("world_size", "World size (ranks)", True),
    ("nodes", "Nodes", True),
    ("ranks_per_node", "Ranks per node", True),
    ("gpus_per_node", "GPUs per node", True),
    ("launcher", "Launcher", True),
    ("dist_backend", "Distributed backend", True),
    ("dist_backend_version", "Distributed backend version", True),
    ("dist_timeout_s", "Distributed timeout (s)", True),
    ("host_name", "Host", True),
    ("cpu_model", "CPU model", True),
    ("num_cpus", "CPUs", True),
    ("mhz_per_cpu", "CPU MHz", True),
    ("cpu_threads", "CPU threads used", True),
    ("cpu_scaling_enabled", "CPU frequency scaling", True),
    ("data_dir", "Data directory", True),
    ("train_samples", "Train samples", True),
    ("test_samples", "Test samples", True),
    ("trainbench_version", "trainbench version", True),
    ("git_commit", "Git commit", True),
    ("library_build_type", "Benchmark library build", True),
    ("executable", "Executable", False),
    ("date", "Date", False),
)


# ---- reading the declarations ------------------------------------------------------------

def declared_list(context: dict, key: str, list_key: Optional[str] = None) -> Optional[list]:
    """The entries (dicts) of a declaration: ``context[key]`` is a JSON string holding
    ``{list_key: [...]}`` (``list_key`` defaults to ``key``). None when the context has no
    such key or it is not that JSON: the caller then uses its fallback."""
    text = context.get(key) if isinstance(context, dict) else None
    if not isinstance(text, str):
        return None
    try:
        entries = _loads(text)[list_key or key]
    except (ValueError, KeyError, TypeError):   # strict_json.Unusable is a ValueError
        return None
    if not isinstance(entries, list):
        return None
    return [e for e in entries if isinstance(e, dict)]


@functools.lru_cache(maxsize=64)
def _loads(text: str):
    """strict_json.loads, once per declaration text: compare asks for a direction per counter and
    benchmark, and the "counters" string of a run is about 5 KB. Callers must not modify
    what it returns. JSON the tools cannot use (``strict_json``: nested too deep, a huge
    integer, a lone surrogate) is a ValueError, as malformed JSON is."""
    return strict_json.loads(text)


def declared_counters(context: dict) -> Optional[dict]:
    """{counter name: its "counters" entry} as the run declares them, or None without
    a declaration."""
    entries = declared_list(context, "counters")
    return None if entries is None else {e["name"]: e for e in entries
                                         if isinstance(e.get("name"), str)}


def declared_direction(name: str, context: dict) -> Optional[str]:
    """"higher", "lower" or "neutral" as ``context`` declares counter ``name``; None when it
    does not declare it (or gives a "better" the tools do not know)."""
    entry = (declared_counters(context) or {}).get(name)
    better = entry.get("better") if entry else None
    return BETTER.get(better) if isinstance(better, str) else None


def fallback_direction(name: str) -> str:
    """The direction for a counter no run declares: the tables above, else Google
    Benchmark's convention (a ``*_per_second`` / ``*_per_s`` rate is higher-is-better),
    else neutral."""
    if name in NEUTRAL:
        return gbench.NEUTRAL_DIRECTION
    if name in HIGHER_IS_BETTER:
        return gbench.HIGHER
    if name in LOWER_IS_BETTER:
        return gbench.LOWER
    return gbench.convention_direction(name)


def counter_direction(name: str, *contexts: dict) -> str:
    """Return "higher", "lower" or "neutral" (the better direction of a counter).

    The first of ``contexts`` that declares the counter decides ("neither" is neutral:
    shown, never judged); without one, :func:`fallback_direction`.
    """
    for context in contexts:
        direction = declared_direction(name, context)
        if direction is not None:
            return direction
    return fallback_direction(name)


def counter_unit(name: str, *contexts: dict) -> Optional[str]:
    """The unit the first of ``contexts`` that declares counter ``name`` gives it
    ("samples/s", "ms", "MB = 2^20 bytes"), or None (no table of units for older files)."""
    for context in contexts:
        entry = (declared_counters(context) or {}).get(name)
        if entry is not None and isinstance(entry.get("unit"), str) and entry["unit"]:
            return entry["unit"]
    return None


def added_axes(context: dict) -> dict:
    """The axes a family's names may lack: {family: {axis: the value a name without it
    means}}, in the order of the run's "axes" declaration (the order in a name), taking the
    axes whose "absent" is not null. Without a declaration, ``FALLBACK_ADDED_AXES``."""
    entries = declared_list(context, "axes")
    if entries is None:
        return {family: dict(axes) for family, axes in FALLBACK_ADDED_AXES.items()}
    table: dict = {}
    for entry in entries:
        absent, families = entry.get("absent"), entry.get("families", ())
        if absent is None or not isinstance(entry.get("name"), str) \
                or not isinstance(families, list):
            continue
        for family in (f for f in families if isinstance(f, str)):
            table.setdefault(family, {})[entry["name"]] = str(absent)
    return table


def merged_added_axes(*contexts: dict) -> dict:
    """The added axes of runs read together (compare): every axis any of them may lack, with
    the value the first context that has it gives.  An axis a newer run declares applies
    to an older run's names too: they were written before it existed, and mean its absent
    value (as names from before ``graph`` mean graph:0)."""
    table: dict = {}
    for context in contexts:
        for family, axes in added_axes(context).items():
            merged = table.setdefault(family, {})
            for axis, value in axes.items():
                merged.setdefault(axis, value)
    return table


def collect_benchmarks(run: gbench.Run, added: Optional[dict] = None) -> dict:
    """``gbench.collect_benchmarks`` with trainbench's meanings: the axes the run's names may
    lack (``added``, default :func:`added_axes` of its context) and the renamed counters
    (``RENAMED_COUNTERS``)."""
    table = added if added is not None else added_axes(run.context)
    return gbench.collect_benchmarks(run, table, RENAMED_COUNTERS)
