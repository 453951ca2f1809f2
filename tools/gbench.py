"""Shared helpers for reading Google Benchmark JSON output.

What it does:
  * ``load_run(path)`` reads one ``--benchmark_out_format=json`` file, checks
    that it looks like Google Benchmark output and returns a :class:`Run`
    (path, context dict, list of raw benchmark rows).  Any problem with the
    file is raised as :class:`InputError` (file name + one-line reason), which
    the command-line tools turn into one stderr line and exit status 2: JSON
    the tools cannot use (nested too deep, an integer beyond a double's range, a
    lone surrogate: ``strict_json.py``), a ``time_unit`` other than ns/us/ms/s,
    an ``error_occurred`` that is not a JSON boolean.
  * (in ``gbench_names.py``, re-exported here) ``parse_name(name)`` splits a
    benchmark name such as
    ``BM_TrainEpoch/batch:256/model:Medium/iterations:2/manual_time`` into the
    family, the ``key:value`` axes, the run settings Google Benchmark appends
    (``iterations``, ``repeats``, ``threads``, ...) and bare flags.
  * ``match_key(name)`` is the name without the run-setting segments that do
    not change what one iteration measures (``iterations:N``, ``repeats:N``,
    ``min_time:X``, ``min_warmup_time:X``), so runs made with different
    settings (e.g. trainbench ``--epochs``) can be matched; ``run_settings``
    returns those dropped segments as a dict.
  * ``to_seconds`` / ``format_seconds`` convert between time units;
    ``format_bytes`` writes a byte count in binary units.
  * An ``added_axes`` table ({family: {axis: value}}) names the axes a
    family's names may lack, with the value a name without one means;
    ``match_key`` fills them in and ``Benchmark.axis`` reads them.  Which
    axes those are is the program's business: declarations.py has
    trainbench's.
  * ``convention_direction`` is Google Benchmark's own convention for a
    counter's better direction (``*_per_second`` rates are higher-is-better).
  * ``collect_benchmarks(run)`` groups the rows of a run by run name into
    :class:`Benchmark` objects holding the samples used by the tools: the
    iteration rows when there are any, otherwise the ``mean`` (else
    ``median``) aggregate as one sample; errored benchmarks keep their
    error message and no samples.  Complexity (BigO/RMS) rows are ignored.

What it deliberately doesn't do: it never exits or prints (the tools'
command-line plumbing is ``cli.py``), and does not know what trainbench's
counters, axes and context mean (``declarations.py``), its lab parts
(``labparts.py``) or output formats (the individual tools).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Optional

import strict_json
from gbench_names import (FLAG_WORDS, SETTING_KEYS, ParsedName, filled_axes,  # noqa: F401
                          match_key, parse_name, run_settings)

# Seconds per time unit used by Google Benchmark's "time_unit" field.
TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}

# Keys Google Benchmark itself writes into a benchmark row; every other
# numeric key is a user counter.
STANDARD_KEYS = frozenset({
    "name", "family_index", "per_family_instance_index", "run_name",
    "run_type", "repetitions", "repetition_index", "threads", "iterations",
    "real_time", "cpu_time", "time_unit", "aggregate_name", "aggregate_unit",
    "error_occurred", "error_message", "label", "big_o", "rms",
    "cpu_coefficient", "real_coefficient", "complexity_n",
})

# A counter's better direction, as the tools name it.
HIGHER, LOWER, NEUTRAL_DIRECTION = "higher", "lower", "neutral"


class InputError(Exception):
    """A problem with an input file: ``path`` plus a one-line ``problem``."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass
class Run:
    """One Google Benchmark JSON file: its context and raw benchmark rows."""

    path: str
    context: dict
    rows: list

    @property
    def stem(self) -> str:
        """File name without directory and extension."""
        return os.path.splitext(os.path.basename(self.path))[0]

    @property
    def label(self) -> str:
        """Human label: context device_name, else host_name, else file stem."""
        return run_label(self.context, self.path)


# trainbench's row label holding the row's samples, "samples_s=0.512,0.509,0.520"
# (bench/families/sampling.h).
SAMPLES_LABEL_PREFIX = "samples_s="


def label_samples(label) -> list:
    """The finite positive seconds of a trainbench samples label, or [] for any other label
    (or a damaged one: a sample that is no number drops the whole list)."""
    if not isinstance(label, str) or not label.startswith(SAMPLES_LABEL_PREFIX):
        return []
    try:
        values = [float(x) for x in label[len(SAMPLES_LABEL_PREFIX):].split(",")]
    except ValueError:
        return []
    return values if all(math.isfinite(v) and v > 0 for v in values) else []


# trainbench's counters of a row the process was paused in (bench/families/counters.cc).
PERTURBED = "perturbed"
PAUSED_S = "paused_s"


@dataclass
class Benchmark:
    """All rows of one run name in one run, reduced to samples.

    ``times_s`` / ``cpu_times_s`` hold one value per sample in seconds and
    ``counters`` one list per counter.  ``source`` is ``"iterations"``,
    ``"mean"``, ``"median"`` or ``"none"``; ``error`` is the error message of
    an errored benchmark (then there are no samples).
    """

    name: str
    family: str
    axes: dict
    times_s: list = field(default_factory=list)
    cpu_times_s: list = field(default_factory=list)
    counters: dict = field(default_factory=dict)
    iterations: list = field(default_factory=list)
    source: str = "none"
    error: Optional[str] = None
    absent: dict = field(default_factory=dict)   # {axis: value a name without it means}
    not_numbers: dict = field(default_factory=dict)  # {key: a sample's non-numeric value}
    # Seconds per iteration of each timed sample inside the rows (trainbench's per-epoch or
    # per-iteration times, from a row's "samples_s=..." label), pooled over the rows.
    samples_s: list = field(default_factory=list)

    @property
    def time_s(self) -> Optional[float]:
        """Mean real time in seconds, or None without samples."""
        return mean(self.times_s)

    def counter(self, name: str) -> Optional[float]:
        """Mean of a counter's samples, or None if the counter is absent."""
        return mean(self.counters.get(name, []))

    def perturbation(self) -> Optional[dict]:
        """{"pauses", "paused_s"} when trainbench saw the process paused while this benchmark
        ran (its ``perturbed`` counter, on any sample), else None: such numbers are not
        comparable, and compare's check does not judge them."""
        pauses = [v for v in self.counters.get(PERTURBED, []) if v > 0]
        if not pauses:
            return None
        return {"pauses": int(sum(pauses)), "paused_s": sum(self.counters.get(PAUSED_S, []))}

    def axis(self, name: str) -> Optional[str]:
        """The value of an axis of the name, else what its absence means (``absent``:
        ``ranks`` of a trainbench BM_TrainEpoch name without it is "1"), else None."""
        return self.axes.get(name, self.absent.get(name))


# device_name values that say "no GPU" rather than naming a device.
GENERIC_DEVICE_NAMES = frozenset({"", "cpu", "cpu only", "none", "n/a"})


def run_label(context: dict, path: str) -> str:
    """Label for a run: device_name, else host_name, else the file stem.

    A device_name that only says "cpu only" (trainbench without a GPU) does
    not tell machines apart, so the host name is used for it.
    """
    for key in ("device_name", "host_name"):
        value = context.get(key)
        if not isinstance(value, str):
            continue
        if key == "device_name" and value.strip().lower() in GENERIC_DEVICE_NAMES:
            continue
        if value.strip():
            return value.strip()
    return os.path.splitext(os.path.basename(path))[0]


def mean(values) -> Optional[float]:
    """Arithmetic mean of the finite values, or None when there are none."""
    finite = [float(v) for v in values if is_number(v) and math.isfinite(v)]
    if not finite:
        return None
    return sum(finite) / len(finite)


def geomean(values) -> Optional[float]:
    """Geometric mean of the finite positive values, or None if none."""
    usable = [float(v) for v in values
              if is_number(v) and math.isfinite(v) and v > 0]
    if not usable:
        return None
    return math.exp(sum(math.log(v) for v in usable) / len(usable))


def is_number(value: Any) -> bool:
    """True for int/float values (bool excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def to_seconds(value: float, unit: str) -> float:
    """Convert ``value`` in Google Benchmark ``unit`` (ns/us/ms/s) to seconds.

    Raises ValueError for an unknown unit.
    """
    try:
        return value * TIME_UNITS[unit]
    except KeyError:
        raise ValueError(f"unknown time unit {unit!r}") from None


def format_seconds(seconds: Optional[float], digits: int = 3) -> str:
    """Format a duration with the largest unit that keeps it >= 1 (e.g. '12.3 ms')."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    for unit in ("s", "ms", "us", "ns"):
        scaled = seconds / TIME_UNITS[unit]
        if abs(scaled) >= 1 or unit == "ns":
            return f"{scaled:.{digits}g} {unit}"
    raise AssertionError("unreachable")


def format_bytes(size: float, _pos=None) -> str:
    """A byte count in binary units: 512 B, 64 KiB, 16 MiB, 3 GiB (also a matplotlib
    tick formatter, hence ``_pos``)."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size:g} B"


def convention_direction(name: str) -> str:
    """Google Benchmark's convention: a counter named ``*_per_second`` or ``*_per_s`` is a rate
    (``bytes_per_second``, ``items_per_second``), "higher" is better; any other is
    "neutral" (shown, never judged).  A program's own counters are its business
    (``declarations.counter_direction`` for trainbench's)."""
    if name.endswith("_per_second") or name.endswith("_per_s"):
        return HIGHER
    return NEUTRAL_DIRECTION


def base_name(row: dict) -> str:
    """The run name of a row: ``run_name`` or the name minus aggregate suffix."""
    run_name = row.get("run_name")
    if isinstance(run_name, str) and run_name:
        return run_name
    name = row["name"]
    agg = row.get("aggregate_name")
    if isinstance(agg, str) and agg and name.endswith("_" + agg):
        return name[: -len(agg) - 1]
    return name


def is_aggregate(row: dict) -> bool:
    """True for aggregate rows (mean, median, stddev, cv, BigO, RMS...)."""
    run_type = row.get("run_type")
    if run_type is not None:
        return run_type == "aggregate"
    return "aggregate_name" in row


def is_complexity(row: dict) -> bool:
    """True for the BigO / RMS rows ``->Complexity()`` adds (no real_time)."""
    return ("big_o" in row or "rms" in row
            or row.get("aggregate_name") in ("BigO", "RMS"))


def is_errored(row: dict) -> bool:
    """True when Google Benchmark flagged the row with error_occurred (a JSON boolean:
    :func:`validate_document` refuses any other value)."""
    return row.get("error_occurred") is True


def counters_of(row: dict, renamed: Optional[dict] = None) -> dict:
    """User counters of a row: every numeric key Google Benchmark doesn't own.

    Counters named in ``renamed`` (old name -> current name) come back under their
    current name.
    """
    renamed = renamed or {}
    return {renamed.get(k, k): v for k, v in row.items()
            if k not in STANDARD_KEYS and is_number(v)}


def validate_document(doc: Any) -> Optional[str]:
    """Return a one-line problem if ``doc`` isn't Google Benchmark output, else None."""
    if not isinstance(doc, dict):
        return "not Google Benchmark output: top level is not a JSON object"
    rows = doc.get("benchmarks")
    if not isinstance(rows, list):
        return "not Google Benchmark output: no \"benchmarks\" list"
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            return f"not Google Benchmark output: benchmark #{number} is not an object"
        name = row.get("name")
        if not isinstance(name, str) or not name:
            return f"not Google Benchmark output: benchmark #{number} has no \"name\""
        complexity = "big_o" in row or "rms" in row
        if not is_number(row.get("real_time")) and not complexity:
            return (f"not Google Benchmark output: benchmark #{number} "
                    f"({name}) has no numeric \"real_time\"")
        unit = row.get("time_unit", "ns")
        if not isinstance(unit, str) or unit not in TIME_UNITS:
            return (f"benchmark #{number} ({name}) has unknown time_unit "
                    f"{json.dumps(unit)} (expected \"ns\", \"us\", \"ms\" or \"s\")")
        if not isinstance(row.get("error_occurred", False), bool):
            return (f"benchmark #{number} ({name}) has error_occurred "
                    f"{json.dumps(row['error_occurred'])}: must be true or false")
    return None


def where(path: tuple, doc: Any) -> str:
    """Where ``path`` (keys and indices, :class:`strict_json.Unusable`) is in a document:
    'benchmark #2 (BM_x) "real_time"', 'context "host_name"', '"caches"[3]'."""
    rest = path
    place = ""
    if len(path) >= 2 and path[0] == "benchmarks" and isinstance(path[1], int):
        row = doc["benchmarks"][path[1]] if isinstance(doc, dict) else None
        name = row.get("name") if isinstance(row, dict) else None
        place = f"benchmark #{path[1] + 1}" + (
            f" ({strict_json.shown(name)})" if isinstance(name, str) and path[2:] != ("name",)
            else "")
        rest = path[2:]
    elif path and path[0] == "context" and isinstance(doc, dict):
        place, rest = "context", path[1:]
    steps = "".join(f"[{p}]" if isinstance(p, int) else f' "{strict_json.shown(p)}"'
                    for p in rest)
    return (place + steps).strip()


def load_run(path: str) -> Run:
    """Read and validate a Google Benchmark JSON file; raise InputError on problems."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a JSON file") from None
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text, not a JSON file") from None
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    if not text.strip():
        raise InputError(path, "empty file, not Google Benchmark JSON")
    try:
        doc = strict_json.loads(text)
    except json.JSONDecodeError as err:
        # Some of json's messages end in "at" ("Unterminated string starting at"): drop it
        # rather than print "at at line ...".
        what = err.msg.removesuffix(" at")
        raise InputError(path, f"malformed or truncated JSON: {what} "
                               f"at line {err.lineno} column {err.colno}") from None
    except strict_json.Unusable as err:
        at = f"{where(err.path, err.doc)}: " if err.path else ""
        raise InputError(path, at + err.problem) from None
    problem = validate_document(doc)
    if problem:
        raise InputError(path, problem)
    context = doc.get("context")
    if not isinstance(context, dict):
        context = {}
    return Run(path=path, context=context, rows=doc["benchmarks"])


def collect_benchmarks(run: Run, added_axes: Optional[dict] = None,
                       renamed: Optional[dict] = None) -> dict:
    """Group a run's rows by run name into :class:`Benchmark` objects.

    Returns an insertion-ordered dict name -> Benchmark.  Samples are the
    iteration rows when the name has any; otherwise the ``mean`` aggregate
    (else the ``median``) is the single sample.  An errored name has
    ``error`` set and no samples.  Aggregates other than time-unit
    mean/median (stddev, cv) are never used as samples, and the complexity
    rows (BigO, RMS) are skipped entirely.  Each Benchmark's ``absent`` is its
    family's entry of ``added_axes``; counters are read with ``renamed``
    (:func:`counters_of`).
    """
    grouped: dict = {}
    for row in run.rows:
        if not is_complexity(row):
            grouped.setdefault(base_name(row), []).append(row)
    result = {}
    for name, rows in grouped.items():
        parsed = parse_name(name)
        bench = Benchmark(name=name, family=parsed.family, axes=parsed.axes,
                          absent=dict((added_axes or {}).get(parsed.family, {})))
        errored = [r for r in rows if is_errored(r)]
        if errored:
            bench.error = str(errored[0].get("error_message") or "error_occurred")
            bench.source = "none"
            result[name] = bench
            continue
        samples = [r for r in rows if not is_aggregate(r)]
        bench.source = "iterations"
        if not samples:
            for wanted in ("mean", "median"):
                samples = [r for r in rows if r.get("aggregate_name") == wanted
                           and r.get("aggregate_unit", "time") == "time"
                           and is_number(r.get("real_time"))]
                if samples:
                    bench.source = wanted
                    break
        if not samples:
            bench.source = "none"
        for row in samples:
            unit = row.get("time_unit", "ns")
            bench.times_s.append(to_seconds(float(row["real_time"]), unit))
            if is_number(row.get("cpu_time")):
                bench.cpu_times_s.append(to_seconds(float(row["cpu_time"]), unit))
            if is_number(row.get("iterations")):
                bench.iterations.append(row["iterations"])
            for key, value in counters_of(row, renamed).items():
                bench.counters.setdefault(key, []).append(float(value))
            bench.not_numbers.update({(renamed or {}).get(k, k): v for k, v in row.items()
                                      if k not in STANDARD_KEYS and not is_number(v)})
            bench.samples_s += label_samples(row.get("label"))
        result[name] = bench
    return result
