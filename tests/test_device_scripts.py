"""scripts/merge_json.py and scripts/device_summary.py, which scripts/device_check.sh runs on
the GPU machine: checked here on made-up rows, since a mistake there costs a GPU session."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def script(name, *args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def doc(path, rows, context=None):
    path.write_text(json.dumps({"context": context or {}, "benchmarks": rows}))
    return path


def row(name, **counters):
    return {"name": name, "run_name": name, "run_type": "iteration", "real_time": 1.0,
            "time_unit": "s", **counters}


EPOCH = "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0"
STEP = "BM_TrainStep/batch:{}/model:Medium/precision:fp32/device:cuda/graph:{}/manual_time"


def test_merge_keeps_the_first_context_and_every_row_and_names_what_it_left_out(tmp_path):
    a = doc(tmp_path / "a.json", [row("BM_a")], {"device_name": "H200"})
    b = doc(tmp_path / "b.json", [row("BM_b"), row("BM_c")], {"device_name": "other"})
    (tmp_path / "broken.json").write_text('{"benchmarks": [')  # a process killed mid-write
    out = tmp_path / "merged.json"
    proc = script("merge_json.py", out, a, tmp_path / "broken.json", tmp_path / "missing.json", b)
    assert proc.returncode == 0, proc.stderr
    merged = json.loads(out.read_text())
    assert merged["context"] == {"device_name": "H200"}
    assert [r["name"] for r in merged["benchmarks"]] == ["BM_a", "BM_b", "BM_c"]
    assert "broken.json: left out" in proc.stderr and "missing.json: left out" in proc.stderr
    assert script("merge_json.py", out, tmp_path / "missing.json").returncode == 1


def test_summary_puts_phase_one_against_the_targets(tmp_path):
    epoch = doc(tmp_path / "epoch.json", [
        row(EPOCH + "/iterations:2/manual_time", samples_per_second=171000.0, data_wait_pct=1.5,
            gpu_kernel_busy_pct=80.0, step_span_pct=97.0, wall_s_per_epoch=1.005),
        row("BM_HostToDevice/bytes:65536/pinned:1/manual_time", GB_per_s=16.0, pcie_peak_pct=25.0),
        # A GPU run's data-parallel row over a group of one, after the plain one.
        row(EPOCH + "/ranks:1/iterations:2/manual_time", samples_per_second=153900.0, comm_exposed_pct=3.0)])
    fused = doc(tmp_path / "fused.json", [
        row(STEP.format(16, 0), samples_per_second=26000.0, step_ms=0.6, kernel_ms_per_step=0.2),
        row(STEP.format(256, 0), samples_per_second=180000.0, step_ms=1.4)])
    loop = doc(tmp_path / "loop.json", [
        row(STEP.format(16, 0), samples_per_second=20000.0),
        row(STEP.format(256, 0), error_occurred=True, error_message="out of memory at batch:256")])
    suite = doc(tmp_path / "suite.json", [
        row(STEP.format(16, 0), samples_per_second=26000.0),
        row("BM_AllReduce/bytes:268435456/ranks:1/manual_time", algbw_GB_per_s=900.0)])
    graph = doc(tmp_path / "graph.json", [row(STEP.format(16, 1), samples_per_second=52000.0)])
    proc = script("device_summary.py", epoch, fused, loop, suite, "--graph", graph)
    assert proc.returncode == 0, proc.stderr
    expected = (
        "epoch b256: 171000 samples/s (target >= 170000)",
        "wall/events 1.0050 (within 1%)",
        "step b16: fused 26000 vs loop 20000 samples/s = 1.30x (target >= 1.3x)",
        "step b256 loop: skipped: out of memory at batch:256",
        "epoch b256 / step b256: 95.0% (target >= 95%)",
        "H2D 65536 B pinned: 16 GB/s, 25% of the link",
        "graph:1: 52000 samples/s, 2.00x eager",
        "epoch b256 ranks:1 (NCCL, DDP over one GPU): 153900 samples/s = 90.0% of the plain epoch, comm_exposed 3%",
        "all-reduce 268435456 B (ranks:1): 1 s, algbw 900 GB/s",
        "BM_AllReduce/bytes:268435456/ranks:1: algbw 900 GB/s",
    )
    missing = [line for line in expected if line not in proc.stdout]
    assert not missing, proc.stdout
