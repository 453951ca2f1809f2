"""JSON the tools can use all of: ``json.loads`` with every problem a ValueError.

What it does: :func:`loads` is ``json.loads``, except that what ``json`` lets through (or
fails on with an exception of another kind) but no tool can use raises :class:`Unusable`, a
ValueError naming where in the document the value is (``path``, keys and list indices) and
a one-line ``problem``:

  * nesting deeper than :data:`MAX_DEPTH` (Google Benchmark output is 4 levels deep;
    ``json`` itself raises RecursionError some 1,000 levels down);
  * an integer beyond the range of a double (``1`` and 400 zeros, or more digits than
    Python converts at all): every tool turns numbers into floats;
  * a string or key holding a lone surrogate (``"\\ud800"``): valid JSON, but not Unicode
    text, so no file, terminal or figure can be written with it.

A document that is not JSON (malformed, truncated) raises ``json.JSONDecodeError`` as
``json.loads`` does, so callers can give its line and column.

What it deliberately doesn't do: no knowledge of what the document means (gbench.py checks
that it is Google Benchmark output), no file I/O.
"""

from __future__ import annotations

import json
import math

# Deepest nesting accepted: far beyond any Google Benchmark document, far below the depth at
# which the recursive code that walks documents (json.dumps, copies) runs out of stack.
MAX_DEPTH = 100


class Unusable(ValueError):
    """A value no tool can use: ``path`` (keys and indices from the top, possibly empty),
    a one-line ``problem`` and the decoded ``doc`` (None where json could not decode it)."""

    def __init__(self, path: tuple, problem: str, doc=None):
        super().__init__(problem)
        self.path = path
        self.problem = problem
        self.doc = doc


def loads(text: str):
    """``json.loads(text)``; raises ``json.JSONDecodeError`` for text that is not JSON and
    :class:`Unusable` for JSON holding a value the tools cannot use."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise Unusable((), f"JSON nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError as err:
        # json's only other ValueError: an integer of more digits than int() converts.
        problem = str(err).split(";")[0]
        if "integer string conversion" in problem:
            problem = "an integer of more than 4300 digits, beyond the range of a double"
        raise Unusable((), problem) from None
    found = first_unusable(doc)
    if found is not None:
        raise Unusable(*found, doc)
    return doc


def first_unusable(doc) -> tuple | None:
    """(path, problem) of the first value of ``doc`` (depth first, in document order) that
    no tool can use, or None.  Iterative: it is safe on any depth."""
    stack = [((), doc)]
    while stack:
        path, value = stack.pop()
        if len(path) >= MAX_DEPTH:      # the top is level 1
            return path, f"JSON nested too deeply (more than {MAX_DEPTH} levels)"
        problem = value_problem(value)
        if problem is not None:
            return path, problem
        if isinstance(value, dict):
            for key in value:
                if (problem := string_problem(key, "key")) is not None:
                    return path + (key,), problem
            stack += [(path + (key,), item) for key, item in reversed(value.items())]
        elif isinstance(value, list):
            stack += [(path + (index,), item) for index, item in reversed(list(enumerate(value)))]
    return None


def value_problem(value) -> str | None:
    """Why a scalar cannot be used (a huge integer, a string with a lone surrogate), or None."""
    if isinstance(value, str):
        return string_problem(value, "string")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 1000:
        try:
            float(value)
        except OverflowError:
            digits = int(math.log10(abs(value))) + 1
            return f"an integer of {digits} digits, beyond the range of a double"
    return None


def string_problem(text: str, what: str) -> str | None:
    """Why a string (``what``: "string" or "key") is not Unicode text, or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return (f"a {what} with a lone surrogate {ascii(text[err.start])[1:-1]} "
                f"(not Unicode text)")
    return None


def shown(text: str) -> str:
    """``text`` as it can always be printed: a lone surrogate written as ``\\udXXX``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
