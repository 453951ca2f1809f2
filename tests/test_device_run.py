"""A suite's CUDA rows through the real main on the tests' test device (build/trainbench_test_device,
tests/test_device.h): every family's CUDA control flow runs here without a GPU, within the
CUDA contract the test device checks (it exits 3 and names each violation otherwise), and with
faults injected mid-suite: a sticky error, an allocation failure, a failed capture.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "build" / "trainbench_test_device"
# Both devices, both graph settings, a pinned loader with threads; one transfer size each way.
SUITE = ["--dataset=synthetic", "--samples=256", "--epochs=1", "--warmup_steps=2", "--warmup_seconds=0", "--quiet",
         "--model=Small", "--batch=64", "--workers=2", "--device=cpu,cuda", "--benchmark_min_time=0.01",
         "--benchmark_filter=^BM_Train|^BM_DataLoader|bytes:65536/"]
LOST = "CUDA context lost: CUDA error: an illegal memory access was encountered"


@pytest.fixture(scope="module", autouse=True)
def need_binary():
    assert BINARY.exists(), f"{BINARY} is missing: build with scripts/setup.sh"


def run(tmp_path, args, fault=None):
    out = tmp_path / "run.json"
    env = dict(os.environ)
    env.pop("TRAINBENCH_TEST_DEVICE_FAULT", None)
    if fault:
        env["TRAINBENCH_TEST_DEVICE_FAULT"] = fault
    proc = subprocess.run([str(BINARY), *args, f"--benchmark_out={out}", "--benchmark_out_format=json"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert "test device violation" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["benchmarks"]  # complete and valid whatever failed
    return {r["run_name"]: r for r in rows}, proc.stderr


def on_cuda(name):
    return "device:cuda" in name or "pin:1" in name or name.startswith(("BM_HostToDevice", "BM_DeviceToHost"))


def test_every_cuda_row_runs_on_the_test_device(tmp_path):
    rows, _ = run(tmp_path, SUITE + ["--graph=0,1"])
    cuda = [n for n in rows if on_cuda(n)]
    assert len(cuda) == 9  # epoch and step (graph:0,1), loader pin:1, 64 KiB both ways pinned and not
    for name in cuda:
        assert not rows[name].get("error_occurred"), (name, rows[name].get("error_message"))
    for name in cuda:
        if name.startswith("BM_TrainEpoch"):
            assert rows[name]["peak_alloc_MB"] > 0, name  # the test device's allocator
        if name.startswith("BM_Train"):
            # No kernel trace while a CUDA graph exists: the graph:1 rows have no kernel counters.
            assert ("kernel_ms_per_step" in rows[name]) == ("graph:0" in name), name
    # The CPU rows beside them are untouched.
    assert not any(r.get("error_occurred") for n, r in rows.items() if not on_cuda(n))


def test_a_sticky_error_mid_suite_skips_the_later_cuda_rows_and_runs_the_cpu_ones(tmp_path):
    rows, err = run(tmp_path, SUITE, fault="step:5:illegal-address")
    names = list(rows)
    first = next(n for n in names if on_cuda(n))
    assert rows[first]["error_message"] == "CUDA error: an illegal memory access was encountered"
    later_cuda = [n for n in names[names.index(first) + 1:] if on_cuda(n)]
    assert len(later_cuda) >= 4
    for name in later_cuda:
        assert rows[name]["error_message"] == LOST, name
    cpu = [n for n in names if not on_cuda(n)]
    assert len(cpu) >= 3
    for name in cpu:
        assert not rows[name].get("error_occurred"), (name, rows[name].get("error_message"))
        assert rows[name]["real_time"] > 0
    assert f"[trainbench] skipped {later_cuda[0].removesuffix('/manual_time')}" in err or LOST in err


@pytest.mark.parametrize("fault,message", [
    ("cudnn-host-alloc", "cuDNN error: CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED"),
    ("cuda-oom", "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB"),
])
def test_an_allocation_failure_mid_suite_is_out_of_memory_and_the_next_cuda_rows_run(tmp_path, fault, message):
    rows, _ = run(tmp_path, SUITE, fault=f"step:5:{fault}")
    names = list(rows)
    first = next(n for n in names if on_cuda(n))
    assert rows[first]["error_message"] == f"out of memory at batch:64 model:Small: {message}"
    for name in names[names.index(first) + 1:]:
        assert not rows[name].get("error_occurred"), (name, rows[name].get("error_message"))


def test_a_failed_capture_loses_the_context_for_the_graph_rows_after_it(tmp_path):
    rows, _ = run(tmp_path, SUITE + ["--graph=0,1"], fault="capture:1:capture-invalidated")
    graph = [n for n in rows if "graph:1" in n]
    assert len(graph) == 2  # registered after every eager row
    why = "CUDA graph capture failed: CUDA error: operation not permitted when stream is capturing"
    assert rows[graph[0]]["error_message"] == why
    assert rows[graph[1]]["error_message"] == f"CUDA context lost: {why}"
    eager = [n for n in rows if "graph:1" not in n]
    assert not any(rows[n].get("error_occurred") for n in eager)
