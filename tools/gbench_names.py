"""Google Benchmark run names: split into family, axes, settings and flags; matched across runs.

What it does: ``parse_name(name)`` splits ``BM_TrainEpoch/batch:256/model:Medium/iterations:2/
manual_time`` into the family, the ``key:value`` axes, the run settings Google Benchmark
appends (``iterations``, ``repeats``, ``threads``, ...) and bare flags; ``match_key(name)`` is
the name without the run settings that do not change what one iteration measures, with the
axes a family's names may lack filled in, so runs made with different settings match;
``run_settings`` returns the dropped segments and ``filled_axes`` counts the filled-in axes.
gbench.py re-exports all of it: callers use ``gbench.parse_name`` and so on.

What it deliberately doesn't do: no file reading (gbench.py), no knowledge of which axes a
program's names may lack (declarations.py has trainbench's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

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


@dataclass
class ParsedName:
    """A benchmark name split into family, axes, run settings and flags."""

    family: str
    axes: dict
    settings: dict
    flags: list


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
