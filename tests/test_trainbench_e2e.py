"""The trainbench binary end to end on the CPU: names, counters and context in its JSON,
determinism, skipped benchmarks that lose no results, and one-line errors with exit code 2.

Needs build/trainbench (scripts/test.sh builds it first) and the Fashion-MNIST files that
scripts/setup.sh installs.
"""
import gzip
import itertools
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "build" / "trainbench"
DATA_DIR = Path(os.environ.get("FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist")

# models/models.cc ForwardFlopsPerSample(Small): conv 1->8 at 28x28, conv 8->16 at 14x14,
# linear 784->32, linear 32->10, 2 FLOPs per multiply-add.
SMALL_FORWARD_FLOPS = 2.0 * (1 * 9 * 8 * 28 * 28 + 8 * 9 * 16 * 14 * 14 + 784 * 32 + 32 * 10)

# Small and quick: 256 training images, one timed epoch, two warm-up steps.
QUICK = ["--samples=256", "--epochs=1", "--warmup_steps=2", "--model=Small", "--batch=64",
         "--benchmark_filter=BM_TrainEpoch"]


def run(args, out=None, check=True):
    cmd = [str(BINARY)] + list(args)
    if out is not None:
        cmd += [f"--benchmark_out={out}", "--benchmark_out_format=json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def load(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module", autouse=True)
def need_binary():
    assert BINARY.exists(), f"{BINARY} is missing: build with scripts/setup.sh"


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory):
    if not (DATA_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST not installed at {DATA_DIR} (package dataset-fashion-mnist)")
    out = tmp_path_factory.mktemp("e2e") / "run.json"
    proc = run(QUICK + ["--workers=0,2", "--device=cpu"], out)
    return load(out), proc


def by_name(doc):
    return {b["name"]: b for b in doc["benchmarks"]}


def test_json_holds_names_counters_and_context(cpu_run):
    doc, _ = cpu_run
    names = by_name(doc)
    expected = [
        "BM_TrainEpoch/batch:64/model:Small/workers:0/precision:fp32/pin:0/device:cpu/graph:0/iterations:1/manual_time",
        "BM_TrainEpoch/batch:64/model:Small/workers:2/precision:fp32/pin:0/device:cpu/graph:0/iterations:1/manual_time",
    ]
    assert sorted(names) == expected
    for b in names.values():
        for counter in ("samples_per_second", "host_peak_rss_MB", "params_M", "train_loss",
                        "test_acc", "wall_s_per_epoch", "data_wait_pct"):
            assert counter in b, counter
        # CUDA-only counters are absent on CPU, not zero.
        for counter in ("peak_alloc_MB", "peak_reserved_MB", "step_span_pct", "gpu_busy_pct",
                        "nvml_util_pct", "gpu_kernel_busy_pct", "kernel_ms_per_step",
                        "amp_skipped_steps", "mfu_pct"):
            assert counter not in b, counter
        assert b["params_M"] == pytest.approx(0.026698)
        assert 0.0 < b["test_acc"] <= 1.0
        assert b["samples_per_second"] == pytest.approx(256 / b["real_time"], rel=1e-6)
        assert b["time_unit"] == "s"
        # The steady-clock epoch time and the host wall clock agree on CPU.
        assert b["wall_s_per_epoch"] == pytest.approx(b["real_time"], rel=0.05)
    ctx = doc["context"]
    for key in ("trainbench_version", "git_commit", "libtorch_version", "device_name",
                "cpu_threads", "data_dir", "train_samples", "test_samples"):
        assert key in ctx, key
    assert ctx["libtorch_version"].startswith("2.")
    assert ctx["train_samples"] == "256"
    assert ctx["test_samples"] == "10000"
    assert ctx["data_dir"] == str(DATA_DIR)


def test_workers_do_not_change_the_numbers(cpu_run):
    doc, _ = cpu_run
    w0, w2 = sorted(by_name(doc).items())
    assert w0[1]["train_loss"] == w2[1]["train_loss"]
    assert w0[1]["test_acc"] == w2[1]["test_acc"]


def test_same_flags_same_losses(cpu_run, tmp_path):
    doc, _ = cpu_run
    out = tmp_path / "again.json"
    run(QUICK + ["--workers=0", "--device=cpu", "--quiet"], out)
    again = load(out)["benchmarks"][0]
    first = by_name(doc)[again["name"]]
    assert again["train_loss"] == first["train_loss"]
    assert again["test_acc"] == first["test_acc"]


def test_progress_lines_unless_quiet(cpu_run):
    _, proc = cpu_run
    assert "BM_TrainEpoch/batch:64/model:Small/workers:2/precision:fp32/pin:0/device:cpu/graph:0 epoch 1/1:" in proc.stderr
    quiet = run(QUICK + ["--workers=0", "--quiet", "--dataset=synthetic"])
    assert "epoch 1/1" not in quiet.stderr


def test_unsupported_precision_is_skipped_and_the_rest_still_run(tmp_path):
    out = tmp_path / "prec.json"
    proc = run(QUICK + ["--dataset=synthetic", "--precision=fp32,fp16,bf16", "--workers=0"], out)
    rows = {b["name"].split("/")[4]: b for b in load(out)["benchmarks"]}
    assert sorted(rows) == ["precision:bf16", "precision:fp16", "precision:fp32"]
    assert rows["precision:fp16"].get("error_occurred") is True
    assert "fp16" in rows["precision:fp16"]["error_message"]
    for ok in ("precision:fp32", "precision:bf16"):
        assert "error_occurred" not in rows[ok] or rows[ok]["error_occurred"] is False
        assert rows[ok]["samples_per_second"] > 0
    assert proc.returncode == 0


def test_train_step_family_reports_step_counters(tmp_path):
    out = tmp_path / "step.json"
    run(["--dataset=synthetic", "--samples=64", "--model=Small", "--batch=16", "--device=cpu",
         "--warmup_steps=1", "--benchmark_filter=BM_TrainStep", "--benchmark_min_time=0.05"], out)
    (b,) = load(out)["benchmarks"]
    assert b["name"] == "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cpu/graph:0/manual_time"
    assert b["step_ms"] == pytest.approx(1e3 * 16 / b["samples_per_second"], rel=1e-6)
    assert b["tflops"] > 0


def test_data_loader_family_follows_the_epoch_axes(tmp_path):
    out = tmp_path / "loader.json"
    run(["--dataset=synthetic", "--samples=512", "--batch=64,128", "--workers=0,2",
         "--device=cpu", "--benchmark_filter=BM_DataLoader", "--benchmark_min_time=0.02"], out)
    rows = by_name(load(out))
    assert sorted(rows) == sorted(
        f"BM_DataLoader/batch:{b}/workers:{w}/pin:0/manual_time" for b in (64, 128) for w in (0, 2))
    for b in rows.values():
        assert not b.get("error_occurred"), b.get("error_message")
        assert b["time_unit"] == "ms"
        # One iteration is one epoch of the 512 images.
        assert b["samples_per_second"] == pytest.approx(512 / (b["real_time"] / 1e3), rel=1e-6)


def test_list_tests_shows_the_default_sweep():
    proc = run(["--benchmark_list_tests", "--dataset=synthetic"])
    names = proc.stdout.split()
    assert "BM_TrainEpoch/batch:64/model:Medium/workers:0/precision:fp32/pin:0/device:cpu/graph:0/iterations:1/manual_time" in names
    assert "BM_TrainStep/batch:256/model:Large/precision:fp32/device:cpu/graph:0/iterations:1/manual_time" in names
    # One loader benchmark per loader setting the epochs use, which differ with and without
    # a GPU (the listed epochs say which sweep ran); pinned memory only with a GPU.
    loaders = {n for n in names if n.startswith("BM_DataLoader/")}
    loader = "BM_DataLoader/batch:{}/workers:{}/pin:{}/manual_time"
    if any("/device:cuda/" in n for n in names):
        want = {loader.format(64, 0, 0)} | {loader.format(b, 4, 1) for b in (16, 64, 256, 1024)} \
            | {loader.format(256, w, 1) for w in (0, 2, 8)}
    else:
        want = {loader.format(64, 0, 0)} | {loader.format(b, 2, 0) for b in (16, 64, 256, 1024)} \
            | {loader.format(256, w, 0) for w in (0, 1, 4)}
    assert loaders == want
    assert len(names) == len(set(names))


# One case a line: the flags, " => ", then what the one line trainbench prints on stderr holds.
BAD_INPUTS = """
--batch=abc             => --batch=abc: not an integer
--model=Huge            => --model=Huge: unknown model
--device=cuda           => --device=cuda: no CUDA GPU is available
--pin=1 --device=cpu    => --pin=1: pinned memory exists only with --device=cuda
--epochs=0              => --epochs=0: out of range 1..100000
--epochs=two            => --epochs=two:
--no_such_flag=1        => --no_such_flag: unknown flag
--dataset=imagenet      => --dataset=imagenet: unknown dataset
--data_dir=/nonexistent => /nonexistent/train-images-idx3-ubyte.gz: no such file
--graph=1 --device=cpu  => --graph=1: CUDA graphs exist only with --device=cuda
--graph=yes             => --graph=yes: not an integer
--adam=sgd              => --adam=sgd: unknown Adam update (expected fused or loop)
--warmup_seconds=-2     => --warmup_seconds=-2: out of range 0..3600 s, or -1 (the default
"""


@pytest.mark.parametrize("args, message", [
    (flags.split(), message) for flags, message in
    (line.split(" => ") for line in BAD_INPUTS.strip().splitlines())])
def test_bad_input_is_one_line_and_exit_2(args, message):
    if "--device=cuda" in args and os.path.exists("/dev/nvidia0"):
        pytest.skip("this machine has a GPU: --device=cuda is valid here")
    proc = run(args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    assert message in lines[0]


def test_corrupt_data_file_is_named(tmp_path):
    if not (DATA_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST not installed at {DATA_DIR}")
    for f in DATA_DIR.glob("*.gz"):
        (tmp_path / f.name).symlink_to(f)
    # Replace the training labels with a truncated copy.
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with gzip.open(DATA_DIR / "train-labels-idx1-ubyte.gz") as f:
        raw = f.read()
    with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(raw[:1000])
    proc = run([f"--data_dir={tmp_path}"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"trainbench: {tmp_path}/train-labels-idx1-ubyte.gz: truncated: 992 of 60000 data bytes")


# ---- GPU: these run only where trainbench sees a CUDA GPU, and say why they skip elsewhere.

@pytest.fixture(scope="module")
def gpu():
    probe = run(["--device=cuda", "--dataset=synthetic", "--benchmark_list_tests"], check=False)
    if probe.returncode != 0:
        pytest.skip(f"no CUDA GPU here: {probe.stderr.strip()}")


def test_cuda_epoch_has_device_counters_and_context(gpu, tmp_path):
    out = tmp_path / "cuda.json"
    run(["--device=cuda", "--dataset=synthetic", "--samples=4096", "--epochs=1",
         "--warmup_steps=5", "--model=Small", "--batch=256", "--workers=2", "--pin=0,1",
         "--precision=fp32,tf32,fp16,bf16", "--benchmark_filter=BM_TrainEpoch"], out)
    doc = load(out)
    rows = doc["benchmarks"]
    assert len(rows) == 8
    for b in rows:
        assert not b.get("error_occurred"), b.get("error_message")
        for counter in ("peak_alloc_MB", "peak_reserved_MB", "step_span_pct", "data_wait_pct",
                        "gpu_kernel_busy_pct", "kernel_ms_per_step"):
            assert counter in b, counter
        assert "gpu_busy_pct" not in b  # renamed to step_span_pct
        assert 0 < b["step_span_pct"] <= 100
        # Kernels run inside the step spans: the GPU's own busy time cannot exceed them by
        # more than the traced epoch's noise.
        assert 0 < b["gpu_kernel_busy_pct"] <= min(100, b["step_span_pct"] * 1.2)
        assert b["peak_reserved_MB"] >= b["peak_alloc_MB"] > 0
        assert ("amp_skipped_steps" in b) == ("precision:fp16" in b["name"])
        # CUDA events and the synchronized host clock agree within 1% per epoch.
        assert b["wall_s_per_epoch"] == pytest.approx(b["real_time"], rel=0.01)
    for key in ("device_name", "cuda_runtime_version", "cuda_driver_version", "cudnn_version",
                "gpu_memory_MB", "sm_count", "compute_capability", "pcie_link",
                "pcie_link_current", "adam"):
        assert key in doc["context"], key
    # MFU: present where the architecture is in fixtures/gpu_peak.cc (Volta to Blackwell),
    # against the context's peak for the row's precision.
    ctx = doc["context"]
    if "gpu_architecture" in ctx:
        for b in rows:
            precision = re.search(r"/precision:(\w+)/", b["name"]).group(1)
            peak = float(ctx[f"peak_tflops_{precision}"]) * 1e12
            assert 0 < b["mfu_pct"] < 100
            flops = 3 * b["samples_per_second"] * SMALL_FORWARD_FLOPS
            assert b["mfu_pct"] == pytest.approx(100 * flops / peak, rel=2e-3)
    else:
        assert all("mfu_pct" not in b for b in rows)


def test_cuda_out_of_memory_skips_one_benchmark_and_the_rest_run(gpu, tmp_path):
    out = tmp_path / "oom.json"
    proc = run(["--device=cuda", "--dataset=synthetic", "--samples=60000", "--epochs=1",
                "--warmup_steps=1", "--model=Large", "--batch=262144,256", "--workers=2",
                "--benchmark_filter=BM_TrainStep"], out)
    rows = {b["name"].split("/")[1]: b for b in load(out)["benchmarks"]}
    assert rows["batch:262144"]["error_occurred"] is True
    assert "out of memory at batch:262144 model:Large" in rows["batch:262144"]["error_message"]
    assert rows["batch:256"]["samples_per_second"] > 0
    assert proc.returncode == 0


def test_pinned_data_loader_runs_on_a_gpu_machine(gpu, tmp_path):
    out = tmp_path / "pinned_loader.json"
    run(["--device=cuda", "--dataset=synthetic", "--samples=4096", "--batch=256",
         "--workers=0,4", "--pin=0,1", "--model=Small", "--benchmark_filter=BM_DataLoader",
         "--benchmark_min_time=0.05"], out)
    rows = by_name(load(out))
    assert len(rows) == 4
    for b in rows.values():
        assert not b.get("error_occurred"), b.get("error_message")
        assert b["samples_per_second"] > 0


def test_transfers_report_bandwidth(gpu, tmp_path):
    out = tmp_path / "copy.json"
    run(["--dataset=synthetic", "--benchmark_filter=BM_HostToDevice/bytes:(65536|268435456)/",
         "--benchmark_min_time=0.05"], out)
    rows = {tuple(b["name"].split("/")[1:3]): b for b in load(out)["benchmarks"]}
    big, small = "bytes:268435456", "bytes:65536"
    assert rows[big, "pinned:1"]["GB_per_s"] > rows[big, "pinned:0"]["GB_per_s"] > 0
    # With the stream held while copies queue, 64 KiB pinned copies are not dispatch-bound:
    # a raw cudaMemcpyAsync loop reached about a third of the 256 MiB rate on an H100.
    assert rows[small, "pinned:1"]["GB_per_s"] > 0.2 * rows[big, "pinned:1"]["GB_per_s"]


def test_fused_adam_is_the_default_and_loop_still_runs(gpu, tmp_path):
    results = {}
    for adam in ("fused", "loop"):
        out = tmp_path / f"{adam}.json"
        flags = [] if adam == "fused" else ["--adam=loop"]
        run(flags + ["--device=cuda", "--dataset=synthetic", "--samples=4096", "--model=Medium",
                     "--batch=16", "--precision=fp32,fp16", "--benchmark_filter=BM_TrainStep",
                     "--benchmark_min_time=0.05"], out)
        doc = load(out)
        assert doc["context"]["adam"] == adam
        results[adam] = by_name(doc)
    for name, fused in results["fused"].items():
        assert not fused.get("error_occurred"), fused.get("error_message")
        assert results["loop"][name]["samples_per_second"] > 0
        assert fused["kernel_ms_per_step"] <= fused["step_ms"] * 1.05


def test_a_repeated_axis_flag_takes_the_last_value_and_pin_1_on_cpu_is_dropped():
    listed = run(["--dataset=synthetic", "--device=cpu", "--batch=16", "--batch=64", "--pin=0,1",
                  "--benchmark_filter=BM_TrainEpoch", "--benchmark_list_tests"]).stdout.split()
    assert listed and all("/batch:64/" in n and "/pin:0/" in n for n in listed), listed


def own_flags():
    """{name: type} of the flags trainbench defines under bench/ (ABSL_FLAG(type, name, ...))."""
    source = "\n".join(p.read_text() for p in sorted((ROOT / "bench").rglob("*.cc")))
    return {name: kind for kind, name in re.findall(r"ABSL_FLAG\(([\w:<>]+),\s*(\w+),", source)}


def test_help_lists_every_flag_main_defines(cpu_run):
    flags = own_flags()
    assert len(flags) >= 15 and flags["quiet"] == "bool"
    # The axis flags are the axis table's (bench/suite/axis_table.cc), which the context declares.
    axes = [a["name"] for a in json.loads(cpu_run[0]["context"]["axes"])["axes"] if a["help"]]
    assert {"batch", "model", "workers", "precision", "pin", "device", "graph"} <= set(axes)
    listed = set(re.findall(r"^  --(\w+)=", run(["--help"]).stdout, flags=re.M))
    assert set(flags) | set(axes) <= listed, (set(flags) | set(axes)) - listed


@pytest.mark.parametrize("prefix", ["no", "no_"])
def test_every_boolean_flag_has_a_negation(prefix):
    bools = [name for name, kind in own_flags().items() if kind == "bool"]
    assert {"quiet", "trace_epoch", "memory_guard"} <= set(bools)
    for name in bools:
        proc = run([f"--{prefix}{name}", "--benchmark_list_tests", "--dataset=synthetic"], check=False)
        assert proc.returncode == 0, (name, proc.stderr)
    proc = run([f"--{prefix}samples", "--dataset=synthetic"], check=False)
    assert proc.returncode == 2 and f"--{prefix}samples: unknown flag" in proc.stderr


def test_lab_parts_context_declares_the_listed_default_suite(cpu_run):
    # The suite trainbench declares in its JSON is the one it runs by default: every point of
    # every part is a listed benchmark (a run with axis flags still declares the default).
    doc, _ = cpu_run
    parts = json.loads(doc["context"]["lab_parts"])["parts"]
    keys = [p["key"] for p in parts]
    assert {"part1", "part2", "part3", "part4", "precision", "small_models", "loader"} <= set(keys)
    listed = {re.sub(r"/(iterations:\d+/)?manual_time$", "", n)
              for n in run(["--benchmark_list_tests", "--dataset=synthetic"]).stdout.split()}
    for part in parts:
        for point in itertools.product(*[s["values"] for s in part["sweeps"]]):
            axes = dict(part["centre"])
            axes.update(zip([s["axis"] for s in part["sweeps"]], point))
            for family in part["families"]:
                name = family + "".join(f"/{k}:{v}" for k, v in axes.items())
                assert name in listed, (part["key"], name)


def label_samples(row):
    """The per-epoch seconds a row lists in its label (samples_s=a,b,...)."""
    (field,) = [f for f in row["label"].split() if f.startswith("samples_s=")]
    return [float(v) for v in field.split("=", 1)[1].split(",")]


def test_the_stopping_criterion_stops_on_noise_or_on_time_and_says_which(tmp_path):
    """--max_noise on a real run: a lenient limit is met after --min_samples epochs; a limit no
    CPU epoch reaches stops at --max_seconds, prints the stopped-at line and records
    noise_met=0. Either way the row's time is the mean of the samples in its label."""
    base = ["--dataset=synthetic", "--samples=256", "--warmup_steps=2", "--model=Small", "--batch=64",
            "--workers=0", "--device=cpu", "--benchmark_filter=BM_TrainEpoch"]
    met_out, flagged_out = tmp_path / "met.json", tmp_path / "flagged.json"
    met = run(base + ["--max_noise=100", "--min_samples=3", "--max_seconds=60"], met_out)
    flagged = run(base + ["--max_noise=0.01", "--min_samples=3", "--max_seconds=0.2"], flagged_out)
    for proc, out, noise_met in ((met, met_out, 1), (flagged, flagged_out, 0)):
        doc = load(out)
        (row,) = doc["benchmarks"]
        assert row["name"].endswith("/iterations:1/manual_time"), row["name"]
        samples = label_samples(row)
        assert row["noise_met"] == noise_met
        assert row["noise_samples"] == len(samples) >= 3
        assert row["real_time"] == pytest.approx(sum(samples) / len(samples), rel=1e-4)  # label: 6 digits
        assert row["noise_pct"] > 0
        assert "max_noise" in doc["context"]["stopping_criterion"]
    # 100% is met at the floor; 0.01% is not, and the floor still holds over the time limit.
    assert load(met_out)["benchmarks"][0]["noise_samples"] == 3
    stopped = [l for l in flagged.stderr.splitlines() if "stopped at --max_seconds=0.2" in l]
    assert len(stopped) == 1 and "above --max_noise=0.01" in stopped[0], flagged.stderr[-2000:]
    assert not any("stopped at" in l for l in met.stderr.splitlines())


def test_warmup_steps_0_with_no_warmup_seconds_is_no_warm_up_in_every_family(tmp_path):
    """--warmup_steps=0 (and no --warmup_seconds) measures cold in the epoch and the step family
    alike; the step family used to warm up until its steps settled anyway."""
    out = tmp_path / "cold.json"
    run(["--dataset=synthetic", "--samples=128", "--model=Small", "--batch=64", "--workers=0", "--device=cpu",
         "--warmup_steps=0", "--warmup_seconds=0", "--epochs=1", "--benchmark_min_time=0.01",
         "--benchmark_filter=^BM_TrainEpoch|^BM_TrainStep"], out)
    rows = {b["name"].split("/")[0]: b for b in load(out)["benchmarks"]}
    assert sorted(rows) == ["BM_TrainEpoch", "BM_TrainStep"]
    for family, row in rows.items():
        assert row["warmup_steps"] == 0, (family, row["warmup_steps"])
