"""tools/pytorch_baseline.py: the plain-PyTorch epoch that BM_TrainEpoch is compared with.
Its models must be trainbench's, its names trainbench's, and compare.py must match them."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import pytorch_baseline as pb  # noqa: E402

SCRIPT = ROOT / "tools" / "pytorch_baseline.py"
QUICK = ["--dataset=synthetic", "--samples=128", "--batch=64", "--model=Small", "--workers=0",
         "--epochs=1", "--warmup_steps=1", "--device=cpu", "--quiet"]


def test_models_match_trainbench_parameter_counts():
    counts = {m: sum(p.numel() for p in pb.make_model(m).parameters())
              for m in ("Small", "Medium", "Large")}
    assert counts == {"Small": 26698, "Medium": 421642, "Large": 6798730}


def test_transform_shapes_range_and_randomness():
    images = torch.arange(0, 784, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(1, 28, 28)
    ds = pb.AugmentedImages(images.repeat(64, 1, 1), torch.zeros(64, dtype=torch.int64))
    outs = [ds[i][0] for i in range(64)]
    assert all(o.shape == (1, 28, 28) for o in outs)
    lo, hi = (0 - pb.MEAN) / pb.STD, (1 - pb.MEAN) / pb.STD
    assert all(o.min() >= lo - 1e-6 and o.max() <= hi + 1e-6 for o in outs)
    # The same image, 64 draws of crop and flip: several distinct results.
    assert len({o.sum().item() for o in outs}) > 5


def test_writes_trainbench_names_that_compare_matches(tmp_path):
    out = tmp_path / "pt.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), *QUICK, "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    (row,) = doc["benchmarks"]
    assert row["name"] == ("BM_TrainEpoch/batch:64/model:Small/workers:0/precision:fp32/pin:0/"
                           "device:cpu/iterations:1/manual_time")
    assert row["samples_per_second"] == pytest.approx(128 / row["real_time"])
    assert 0 <= row["test_acc"] <= 1 and row["params_M"] == pytest.approx(0.026698)
    assert "peak_alloc_MB" not in row
    # compare.py reads it as Google Benchmark output and finds the benchmark in common.
    cmp = subprocess.run([sys.executable, str(ROOT / "tools" / "compare.py"), str(out), str(out)],
                         capture_output=True, text=True, timeout=60)
    assert cmp.returncode == 0, cmp.stderr
    assert "BM_TrainEpoch/batch:64/model:Small" in cmp.stdout


@pytest.mark.parametrize("flag, message", [
    ("--device=tpu", "--device=tpu: unknown device"),
    ("--model=Huge", "--model=Huge: unknown model"),
    ("--batch=x", "--batch=x: not a list of int values"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, flag, message):
    proc = subprocess.run([sys.executable, str(SCRIPT), *QUICK, flag, "-o", str(tmp_path / "x.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"pytorch_baseline: {message}")
