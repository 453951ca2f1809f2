"""Synthetic histories for history.py's tests and benchmark, built from real trainbench files.

:func:`write_history` takes a real run (its benchmarks, counters and context as trainbench
writes them) and writes, per machine, a series of runs of it: every time and counter times
log-normal noise of the given CV, times any injected step, with the machine's GPU in the
context, a date an hour apart, a commit each and the software of its time.  Deterministic
for a seed.  Not a command: tests/tools/test_history_*.py and history_bench.py use it.
"""

import copy
import json
import math
import os
from datetime import datetime, timedelta, timezone

import numpy as np

import gbench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPUTS = os.path.join(ROOT, "tests", "tools", "inputs")
# trainbench's default GPU sweep (benchmarks, names, counters and context keys as it writes
# them, made-up numbers) and a real CPU run of the default suite.
GPU_SOURCE = os.path.join(INPUTS, "trainbench_gpu.json")
CPU_SOURCE = os.path.join(ROOT, "results", "vm-20261201T232658Z.json")

# What tells GPU models apart in a run's context (the machine key) and what does not.
MACHINES = {
    "h100": {"device_name": "NVIDIA H100 80GB HBM3", "gpu_memory_MB": "81559",
             "sm_count": "132", "compute_capability": "9.0"},
    "a100": {"device_name": "NVIDIA A100-SXM4-40GB", "gpu_memory_MB": "40326",
             "sm_count": "108", "compute_capability": "8.0"},
    "l4": {"device_name": "NVIDIA L4", "gpu_memory_MB": "22478", "sm_count": "58",
           "compute_capability": "8.9"},
    "rtx4090": {"device_name": "NVIDIA GeForce RTX 4090", "gpu_memory_MB": "24564",
                "sm_count": "128", "compute_capability": "8.9"},
}
SPEED = {"h100": 1.0, "a100": 1.6, "l4": 3.1, "rtx4090": 1.3}   # time relative to the H100
START = datetime(2026, 9, 1, tzinfo=timezone.utc)
BASE_SOFTWARE = {"libtorch_version": "2.10.0", "cuda_driver_version": "12.8",
                 "cuda_runtime_version": "12.8", "cudnn_version": "9.8.0",
                 "trainbench_version": "0.3.0", "library_build_type": "release"}


def load(source):
    with open(source, encoding="utf-8") as handle:
        return json.load(handle)


def run_name(row):
    return row.get("run_name") or row["name"]


def bench_names(source=GPU_SOURCE, limit=None):
    """The run names of a source file, in order (the first ``limit``)."""
    names = []
    for row in load(source)["benchmarks"]:
        if run_name(row) not in names:
            names.append(run_name(row))
    return names[:limit]


def write_history(folder, machines=("h100", "a100"), runs=30, cv=0.01, seed=0,
                  source=GPU_SOURCE, benchmarks=None, steps=(), software=(), errors=(),
                  repetitions=1, commits=None, max_counters=None):
    """Writes the runs as ``<folder>/<machine>-<NNN>.json``; returns the paths in run order.

    ``benchmarks``: run names kept (default all); ``steps``: (machine, benchmark substring,
    metric, first run index, factor) multiply a metric from that run on ("time" is the real
    and cpu time); ``software``: (first run index, {context key: value}) for every machine;
    ``errors``: (machine, benchmark substring, first run index, error message) make those
    rows errored; ``commits``: one commit per run index (default made-up hashes that are in
    no repository); ``max_counters``: counters per row (cut, or made up)."""
    doc = load(source)
    rows = [r for r in doc["benchmarks"]
            if r.get("run_type", "iteration") == "iteration"
            and (benchmarks is None or run_name(r) in benchmarks)]
    rng = np.random.default_rng(seed)
    sigma = math.sqrt(math.log(1 + cv * cv))
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index in range(runs):
        for machine in machines:
            context = copy.deepcopy(doc["context"])
            context.update(MACHINES[machine])
            context.update(BASE_SOFTWARE)
            for first, change in software:
                if index >= first:
                    context.update(change)
            context["date"] = (START + timedelta(hours=index)).isoformat()
            context["git_commit"] = (commits[index] if commits
                                     else f"{(index * 7919 + 0xabc) % 16 ** 12:012x}")
            context["mhz_per_cpu"] = int(2000 + rng.integers(0, 800))  # measured: not a key
            out = []
            for row in rows:
                for repetition in range(repetitions):
                    out.append(noisy(row, machine, index, repetition, repetitions, rng,
                                     sigma, steps, errors, max_counters))
            path = os.path.join(folder, f"{machine}-{index:04d}.json")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"context": context, "benchmarks": out}, handle)
            paths.append(path)
    return paths


def noisy(row, machine, index, repetition, repetitions, rng, sigma, steps, errors,
          max_counters):
    """One row of one run: the source row scaled by the machine, noise and steps."""
    new = copy.deepcopy(row)
    name = run_name(row)
    new["repetitions"], new["repetition_index"] = repetitions, repetition
    for m, part, first, message in errors:
        if m == machine and part in name and index >= first:
            new.update(error_occurred=True, error_message=message, real_time=0, cpu_time=0,
                       iterations=0)
            return new
    counters = [k for k, v in row.items() if k not in gbench.STANDARD_KEYS and isinstance(v, (int, float))
                and not isinstance(v, bool)]
    for key in counters[max_counters:] if max_counters is not None else []:
        del new[key]
    # A row with fewer counters (a copy has 2) gets rates made up to have max_counters
    # (scale tests want as many metrics per benchmark); *_per_second: higher is better.
    for number in range(len(counters), max_counters or 0):
        key = f"padding{number}_per_second"
        row = dict(row, **{key: 1.0 / row["real_time"]})
        counters.append(key)
    for key in ["real_time"] + counters[:max_counters]:
        factor = float(rng.lognormal(0.0, sigma))
        if key == "real_time":
            factor *= SPEED[machine]
        for m, part, metric, first, step in steps:
            if m == machine and part in name and index >= first and \
                    metric == ("time" if key == "real_time" else key):
                factor *= step
        new[key] = row[key] * factor
        if key == "real_time":
            new["cpu_time"] = row["cpu_time"] * factor
    return new

