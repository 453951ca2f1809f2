"""Benchmark names and counter keys are an interface: the default suite's names (CPU-only, and
with a GPU as the tests' test device presents one) and each row's set of counter keys must
stay byte-identical to tests/golden/, whatever the code underneath is moved to.

A change to these files is a change to the interface: it needs a note in CHANGELOG.md and in the
tools (docs/benchmarks.md says how). Regenerate, after such a decision only, with
    TRAINBENCH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
CPU = ROOT / "build" / "trainbench"
TEST_DEVICE = ROOT / "build" / "trainbench_test_device"
UPDATE = os.environ.get("TRAINBENCH_UPDATE_GOLDEN") == "1"
# Every family, both devices, both graph settings, fp16 (amp_skipped_steps) beside fp32, one
# transfer size each way: the rows whose counter sets differ. The fp16 step is left out: half
# precision emulated on the CPU takes 30 s a row (its counters are fp32's plus amp_skipped_steps,
# which the fp16 epoch rows cover).
COUNTER_RUN = ["--dataset=synthetic", "--samples=128", "--epochs=2", "--warmup_steps=1", "--warmup_seconds=0",
               "--quiet", "--model=Small", "--batch=64", "--workers=0", "--precision=fp32,fp16",
               "--device=cpu,cuda", "--graph=0,1", "--benchmark_min_time=0.05",
               "--benchmark_filter=^BM_TrainEpoch|^BM_TrainStep/.*fp32|^BM_DataLoader|bytes:65536/"]


def check_golden(name, text):
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"{path} is missing (TRAINBENCH_UPDATE_GOLDEN=1 writes it)"
    assert text == path.read_text(), f"{name} differs from the golden file: a benchmark name or counter changed"


def list_tests(binary):
    assert binary.exists(), f"{binary} is missing: build with scripts/setup.sh"
    proc = subprocess.run([str(binary), "--dataset=synthetic", "--benchmark_list_tests"],
                          capture_output=True, text=True, timeout=120, env=without_fault())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def without_fault():
    env = dict(os.environ)
    env.pop("TRAINBENCH_TEST_DEVICE_FAULT", None)
    return env


@pytest.mark.parametrize("binary,golden", [(CPU, "default_suite_cpu.txt"),
                                           (TEST_DEVICE, "default_suite_gpu.txt")])
def test_default_suite_names_are_unchanged(binary, golden):
    check_golden(golden, list_tests(binary))


def test_each_rows_counter_keys_are_unchanged(tmp_path):
    out = tmp_path / "run.json"
    proc = subprocess.run([str(TEST_DEVICE), *COUNTER_RUN, f"--benchmark_out={out}", "--benchmark_out_format=json"],
                          capture_output=True, text=True, timeout=300, env=without_fault())
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Google Benchmark's own fields are not counters; what is left is what the row reports.
    own = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
           "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
           "error_occurred", "error_message", "label"}
    doc = json.loads(out.read_text())
    declared = {c["name"]: c for c in json.loads(doc["context"]["counters"])["counters"]}
    lines = []
    for row in doc["benchmarks"]:
        family = row["name"].split("/")[0]
        for key in row:
            if key not in own:
                assert key in declared, f"{row['name']}: counter {key} is not declared (bench/families/counters.cc)"
                assert family in declared[key]["families"], f"{key} is not declared for {family}"
        keys = sorted(k for k in row if k not in own)
        status = "skipped" if row.get("error_occurred") else "ok"
        lines.append(f"{row['name']} {status} {' '.join(keys)}")
    check_golden("counter_keys.txt", "\n".join(lines) + "\n")
