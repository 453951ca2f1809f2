"""Shared helpers for reading Google Benchmark JSON output.

What it does:
  * ``load_run(path)`` reads one ``--benchmark_out_format=json`` file, checks
    that it looks like Google Benchmark output and returns a :class:`Run`
    (path, context dict, list of raw benchmark rows).  Any problem with the
    file is raised as :class:`InputError` (file name + one-line reason), which
    the command-line tools turn into one stderr line and exit status 2.
  * ``parse_name(name)`` splits a benchmark name such as
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
import re
from dataclasses import dataclass, field
from typing import Any, Optional

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

# Name segments "key:value" that are run settings, not benchmark parameters.
SETTING_KEYS = frozenset({"iterations", "repeats", "threads", "min_time",
                          "min_warmup_time"})

# Run-setting segments match_key drops: they change how long or how often a
# benchmark runs, not what one iteration measures (real_time is per iteration).
# threads:N is kept: it changes the work measured.
_MATCH_DROPPED = re.compile(
    r"^(?:(?:iterations|repeats):\d+|(?:min_time|min_warmup_time):[^/]+)$")

# Bare name segments Google Benchmark appends as flags.
FLAG_WORDS = frozenset({"manual_time", "real_time", "process_time"})

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

    @property
    def time_s(self) -> Optional[float]:
        """Mean real time in seconds, or None without samples."""
        return mean(self.times_s)

    def counter(self, name: str) -> Optional[float]:
        """Mean of a counter's samples, or None if the counter is absent."""
        return mean(self.counters.get(name, []))

    def axis(self, name: str) -> Optional[str]:
        """The value of an axis of the name, else what its absence means (``absent``:
        ``ranks`` of a trainbench BM_TrainEpoch name without it is "1"), else None."""
        return self.axes.get(name, self.absent.get(name))


@dataclass
class ParsedName:
    """A benchmark name split into family, axes, run settings and flags."""

    family: str
    axes: dict
    settings: dict
    flags: list


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


_KEY_VALUE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(.*)$")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def parse_name(name: str) -> ParsedName:
    """Split a benchmark (run) name into family, axes, settings and flags.

    ``BM_HostToDevice/bytes:1024/pinned:1/manual_time`` gives family
    ``BM_HostToDevice``, axes ``{"bytes": "1024", "pinned": "1"}``, flags
    ``["manual_time"]``.  ``iterations``/``repeats``/``threads``/``min_time``
    segments go to ``settings``.  Leading plain words form the family (so a
    fixture benchmark ``Fixture/BM_X/8`` has family ``Fixture/BM_X``); later
    positional arguments (``BM_memcpy/64``) become axes ``arg0``, ``arg1``...
    Axis values stay strings.
    """
    segments = name.split("/")
    family_parts = [segments[0]]
    index = 1
    while index < len(segments):
        seg = segments[index]
        if (_KEY_VALUE.match(seg) or _NUMBER.match(seg) or seg in FLAG_WORDS
                or seg == ""):
            break
        family_parts.append(seg)
        index += 1
    axes: dict = {}
    settings: dict = {}
    flags: list = []
    positional = 0
    for seg in segments[index:]:
        match = _KEY_VALUE.match(seg)
        if match:
            key, value = match.group(1), match.group(2)
            (settings if key in SETTING_KEYS else axes)[key] = value
        elif seg in FLAG_WORDS:
            flags.append(seg)
        else:
            axes[f"arg{positional}"] = seg
            positional += 1
    return ParsedName("/".join(family_parts), axes, settings, flags)


def match_key(name: str, across: Optional[str] = None,
              added_axes: Optional[dict] = None) -> str:
    """The name without the run-setting segments that don't change a per-iteration time.

    Drops ``iterations:N``, ``repeats:N``, ``min_time:X`` and
    ``min_warmup_time:X`` segments (never the first segment, the family);
    keeps axes, positional arguments, ``threads:N`` and bare flags such as
    ``manual_time``.  ``BM_TrainEpoch/batch:256/iterations:2/manual_time``
    gives ``BM_TrainEpoch/batch:256/manual_time``.  An axis a name may lack
    (``added_axes``: {family: {axis: value}}) is filled in with the value its absence means, where it
    goes in a name that has it (before the next such axis the name has, else
    after the last axis), so old and new names match.  ``across`` names an
    axis left out of the key altogether, so that names differing only in it
    match (``compare.py --across``).
    """
    segments = name.split("/")
    kept = segments[:1] + [s for s in segments[1:] if not _MATCH_DROPPED.match(s)]
    added = list((added_axes or {}).get(kept[0], {}).items())
    for index, (axis, value) in enumerate(added):
        if _axis_position(kept, axis) is not None:
            continue
        later = [p for a, _ in added[index + 1:] if (p := _axis_position(kept, a)) is not None]
        if later:
            at = min(later)
        else:
            axis_positions = [i for i, s in enumerate(kept) if i > 0 and _KEY_VALUE.match(s)
                              and _KEY_VALUE.match(s).group(1) not in SETTING_KEYS]
            at = (axis_positions[-1] + 1) if axis_positions else 1
        kept.insert(at, f"{axis}:{value}")
    if across is not None:
        kept = kept[:1] + [s for s in kept[1:] if not s.startswith(across + ":")]
    return "/".join(kept)


def filled_axes(name: str, added_axes: Optional[dict] = None) -> int:
    """How many of its family's ``added_axes`` a name lacks (and :func:`match_key` fills in).

    Where two names of one run share a key, the one that spells out more of them is the one
    the key means: a GPU run's ``BM_TrainEpoch/.../ranks:1`` row (data-parallel over one
    GPU) is ``ranks:1``, and the plain row beside it, whose name has no ``ranks``, is not.
    """
    segments = name.split("/")
    return sum(1 for axis in (added_axes or {}).get(segments[0], {})
               if _axis_position(segments, axis) is None)


def _axis_position(segments: list, axis: str) -> Optional[int]:
    """Index of the ``axis:value`` segment in a split name (never the family), or None."""
    return next((i for i, s in enumerate(segments) if i > 0 and s.startswith(axis + ":")),
                None)


def run_settings(name: str) -> dict:
    """The segments :func:`match_key` drops, as {key: value} in name order."""
    out = {}
    for seg in name.split("/")[1:]:
        if _MATCH_DROPPED.match(seg):
            key, value = seg.split(":", 1)
            out[key] = value
    return out


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
    """True when Google Benchmark flagged the row with error_occurred."""
    return bool(row.get("error_occurred"))


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
        if unit not in TIME_UNITS:
            return f"benchmark #{number} ({name}) has unknown time_unit {unit!r}"
    return None


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
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        # Some of json's messages end in "at" ("Unterminated string starting at"): drop it
        # rather than print "at at line ...".
        what = err.msg.removesuffix(" at")
        raise InputError(path, f"malformed or truncated JSON: {what} "
                               f"at line {err.lineno} column {err.colno}") from None
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
        result[name] = bench
    return result
