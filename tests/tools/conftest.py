"""Shared fixtures for the tools/ tests: puts tools/ on sys.path, locates inputs."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
INPUTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inputs")

if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)


def input_path(name: str) -> str:
    """Absolute path of a file in tests/tools/inputs."""
    return os.path.join(INPUTS, name)


def write_doc(path, benchmarks, context=None) -> str:
    """Write a minimal Google Benchmark JSON document and return its path."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"context": context or {}, "benchmarks": benchmarks}, handle)
    return str(path)


def row(name, real_time, unit="ns", **extra) -> dict:
    """One iteration row as Google Benchmark writes it."""
    data = {"name": name, "run_name": name, "run_type": "iteration",
            "repetitions": 1, "repetition_index": 0, "threads": 1,
            "iterations": 10, "real_time": real_time, "cpu_time": real_time,
            "time_unit": unit}
    data.update(extra)
    return data


def run_script(tool: str, *args, cwd=None) -> subprocess.CompletedProcess:
    """Run tools/<tool>.py with the current interpreter, the way users do."""
    return subprocess.run([sys.executable, os.path.join(TOOLS, f"{tool}.py"), *args],
                          capture_output=True, text=True, cwd=cwd or ROOT, timeout=60)


@pytest.fixture
def inputs():
    """Function returning the path of a named test input."""
    return input_path
