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


# ---- the models trainbench declares (context "models") against make_model ------------------

BINARY = ROOT / "build" / "trainbench"
DECLARED_RUN = ROOT / "tests" / "tools" / "inputs" / "trainbench_declared_cpu.json"


def layer(kind, n_in=None, n_out=None):
    """One declared layer, its parameter count worked out by hand (not by torch): a 3x3
    convolution has 9 x in x out weights and out biases, a linear layer in x out and out,
    batch norm a scale and a shift per channel."""
    params = {"conv3x3": lambda: 9 * n_in * n_out + n_out,
              "linear": lambda: n_in * n_out + n_out,
              "batchnorm": lambda: 2 * n_in}.get(kind, lambda: 0)()
    entry = {"layer": kind, "parameters": params}
    if kind in ("conv3x3", "linear"):
        entry.update({"in": n_in, "out": n_out})
    return entry


def lab_models():
    """The lab's three models, as trainbench's "models" context lists them
    (models/model_table.cc), written out here by hand."""
    def model(name, *layers):
        return {"name": name, "parameters": sum(x["parameters"] for x in layers),
                "layers": list(layers)}
    relu, pool, flat = layer("relu"), layer("maxpool2"), layer("flatten")
    return [
        model("Small", layer("conv3x3", 1, 8), relu, pool, layer("conv3x3", 8, 16), relu, pool,
              flat, layer("linear", 784, 32), relu, layer("linear", 32, 10)),
        model("Medium", layer("conv3x3", 1, 32), relu, pool, layer("conv3x3", 32, 64), relu, pool,
              flat, layer("linear", 3136, 128), relu, layer("linear", 128, 10)),
        model("Large", layer("conv3x3", 1, 64), layer("batchnorm", 64), relu,
              layer("conv3x3", 64, 128), layer("batchnorm", 128), relu, pool,
              layer("conv3x3", 128, 256), layer("batchnorm", 256), relu, pool, flat,
              layer("linear", 12544, 512), relu, layer("linear", 512, 10))]


def models_context(models):
    return {"models": json.dumps({"models": models})}


def test_models_match_a_synthetic_models_context():
    models = lab_models()
    assert [m["parameters"] for m in models] == [26698, 421642, 6798730]
    assert pb.check_models_against(models_context(models)) == []


def test_each_kind_of_mismatch_is_one_line():
    models = lab_models()
    models[0]["layers"][7] = layer("linear", 784, 64)        # Small's first linear, wider
    models[0]["parameters"] += 784 * 32 + 32
    del models[2]["layers"][1]                              # Large without its first batch norm
    models[1]["layers"][1] = {"layer": "gelu", "parameters": 0}
    models.append({"name": "Huge", "parameters": 1, "layers": []})
    found = pb.check_models_against(models_context(models))
    expected = ("Small: 51818 parameters in the run, 26698 in make_model",
                "Small: layer 7 (linear): out is 64 in the run, 32 in make_model",
                "Small: layer 7 (linear): parameters is 50240 in the run, 25120 in make_model",
                "Medium: layer 1 (gelu): layer is gelu in the run, relu in make_model",
                "Large: the run declares 14 layers, make_model builds 15",
                "Huge: the run declares it, make_model does not build it")
    assert not [line for line in expected if line not in found], found
    assert pb.check_models_against(models_context(lab_models()[:2])) == [
        "Large: make_model builds it, the run does not declare it"]
    assert pb.check_models_against({}) == [
        'the context has no "models" declaration to check against']


def test_models_match_a_real_runs_models_context():
    context = json.loads(DECLARED_RUN.read_text())["context"]
    assert pb.check_models_against(context) == []


def test_models_match_what_the_built_binary_declares(tmp_path):
    if not BINARY.exists():
        pytest.skip(f"{BINARY} is not built (scripts/setup.sh builds it)")
    out = tmp_path / "run.json"
    subprocess.run([str(BINARY), "--dataset=synthetic", "--samples=64", "--epochs=1",
                    "--warmup_steps=1", "--quiet", "--model=Small", "--batch=16",
                    "--benchmark_filter=BM_TrainEpoch", "--device=cpu",
                    f"--benchmark_out={out}", "--benchmark_out_format=json"],
                   check=True, capture_output=True, timeout=300)
    context = json.loads(out.read_text())["context"]
    if "models" not in context:
        pytest.skip('build/trainbench writes no "models" context yet (built before it did)')
    assert pb.check_models_against(context) == []
