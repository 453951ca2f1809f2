#!/usr/bin/env python3
"""The same training epoch in plain PyTorch, as a baseline for trainbench's BM_TrainEpoch.

What it does: trains the lab's Small/Medium/Large model on Fashion-MNIST with the lab's
per-sample transform (zero-pad 2, random 28x28 crop, random horizontal flip, scale,
normalize with mean 0.2860 / std 0.3530) in a torch.utils.data.Dataset, a DataLoader with
`--workers` processes and `pin_memory`, Adam (lr 1e-3) and cross-entropy: what a Python user
of the lab would write. It times each epoch (CUDA events on a GPU, perf_counter on CPU),
then writes Google Benchmark-shaped JSON whose benchmark names match trainbench's, so
`tools/compare.py pytorch.json trainbench.json` shows LibTorch against PyTorch per config.

What it deliberately doesn't do: no precision other than fp32 (TF32 off), no warm-up other
than `--warmup_steps` plain steps, no repetitions. Its randomness is torch's, not
trainbench's, so losses are comparable in size, not equal.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import socket
import struct
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cli  # noqa: E402
import declarations  # noqa: E402

PROG = "pytorch_baseline"
MEAN, STD, PAD = 0.2860, 0.3530, 2
MODELS = ("Small", "Medium", "Large")  # the names make_model knows


def read_idx(path: str, rank: int) -> np.ndarray:
    """Reads a gzip'd IDX ubyte file of the given rank (1 labels, 3 images)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic != 0x800 | rank:
        raise ValueError(f"{path}: bad magic number 0x{magic:08x}, expected 0x{0x800 | rank:08x}")
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {body.size} data bytes, expected {int(np.prod(dims))}")
    return body.reshape(dims)


def load_data(data_dir: str, samples: int, synthetic: bool, seed: int):
    """(train_images, train_labels, test_images, test_labels) as uint8 / int64 tensors."""
    if synthetic:
        g = torch.Generator().manual_seed(seed)
        return (torch.randint(0, 256, (samples, 28, 28), generator=g, dtype=torch.uint8),
                torch.randint(0, 10, (samples,), generator=g),
                torch.randint(0, 256, (10000, 28, 28), generator=g, dtype=torch.uint8),
                torch.randint(0, 10, (10000,), generator=g))
    path = lambda name: os.path.join(data_dir, name)  # noqa: E731
    train_x = read_idx(path("train-images-idx3-ubyte.gz"), 3)[:samples]
    train_y = read_idx(path("train-labels-idx1-ubyte.gz"), 1)[:samples]
    test_x = read_idx(path("t10k-images-idx3-ubyte.gz"), 3)
    test_y = read_idx(path("t10k-labels-idx1-ubyte.gz"), 1)
    return (torch.from_numpy(train_x.copy()), torch.from_numpy(train_y.astype(np.int64)),
            torch.from_numpy(test_x.copy()), torch.from_numpy(test_y.astype(np.int64)))


class AugmentedImages(torch.utils.data.Dataset):
    """Per-sample transform on the CPU, as torchvision's Pad/RandomCrop/RandomHorizontalFlip,
    ToTensor and Normalize would do it."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = F.pad(self.images[i].unsqueeze(0), (PAD, PAD, PAD, PAD))
        dy, dx = torch.randint(0, 2 * PAD + 1, (2,)).tolist()
        img = img[:, dy:dy + 28, dx:dx + 28]
        if torch.rand(()) < 0.5:
            img = img.flip(-1)
        return (img.float() / 255.0 - MEAN) / STD, self.labels[i]


def make_model(name: str) -> nn.Sequential:
    """The lab's models, layer for layer as trainbench's models/models.cc."""
    conv = lambda i, o: nn.Conv2d(i, o, 3, padding=1)  # noqa: E731
    if name == "Small":
        return nn.Sequential(conv(1, 8), nn.ReLU(), nn.MaxPool2d(2), conv(8, 16), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(784, 32), nn.ReLU(),
                             nn.Linear(32, 10))
    if name == "Medium":
        return nn.Sequential(conv(1, 32), nn.ReLU(), nn.MaxPool2d(2), conv(32, 64), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    if name == "Large":
        return nn.Sequential(conv(1, 64), nn.BatchNorm2d(64), nn.ReLU(),
                             conv(64, 128), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2),
                             conv(128, 256), nn.BatchNorm2d(256), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(12544, 512), nn.ReLU(), nn.Linear(512, 10))
    raise ValueError(f"--model={name}: unknown model (expected Small, Medium or Large)")


def describe_module(module: nn.Module) -> dict:
    """One module of a make_model Sequential as trainbench's "models" context lists a layer:
    {"layer": conv3x3 | batchnorm | relu | maxpool2 | flatten | linear, "in"/"out" (channels
    or features, for conv3x3 and linear), "parameters" (a count)}."""
    parameters = sum(p.numel() for p in module.parameters())
    if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3):
        return {"layer": "conv3x3", "in": module.in_channels, "out": module.out_channels,
                "parameters": parameters}
    if isinstance(module, nn.Linear):
        return {"layer": "linear", "in": module.in_features, "out": module.out_features,
                "parameters": parameters}
    kinds = {nn.BatchNorm2d: "batchnorm", nn.ReLU: "relu", nn.Flatten: "flatten"}
    kind = next((k for cls, k in kinds.items() if isinstance(module, cls)), None)
    if isinstance(module, nn.MaxPool2d) and module.kernel_size == 2:
        kind = "maxpool2"
    return {"layer": kind or type(module).__name__, "parameters": parameters}


def layer_mismatches(name: str, declared: list, built: list) -> list:
    """Module by module, in order: where the run's declared layers and make_model's differ
    in kind, in/out or parameter count."""
    found = []
    if len(declared) != len(built):
        found.append(f"{name}: the run declares {len(declared)} layers, make_model builds "
                     f"{len(built)}")
    for index, (want, have) in enumerate(zip(declared, built)):
        if not isinstance(want, dict):
            found.append(f"{name}: layer {index} is not an object in the run: {want!r}")
            continue
        for field in ("layer", "in", "out", "parameters"):
            if field in want and want.get(field) != have.get(field):
                found.append(f"{name}: layer {index} ({want.get('layer')}): {field} is "
                             f"{want.get(field)} in the run, {have.get(field)} in make_model")
    return found


def check_models_against(context: dict) -> list:
    """The mismatches between the models a trainbench run declares (its "models" context, a
    JSON string: each model's name, parameters and layers) and make_model's, as one line
    each; empty when every model matches layer for layer.  A context without "models" is
    one mismatch saying so."""
    declared = declarations.declared_list(context, "models")
    if declared is None:
        return ['the context has no "models" declaration to check against']
    found = []
    names = [m.get("name") for m in declared]
    found += [f"{m}: make_model builds it, the run does not declare it"
              for m in MODELS if m not in names]
    for model in declared:
        name = model.get("name")
        if name not in MODELS:
            found.append(f"{name}: the run declares it, make_model does not build it")
            continue
        built = [describe_module(m) for m in make_model(name)]
        total = sum(layer["parameters"] for layer in built)
        if "parameters" in model and model["parameters"] != total:
            found.append(f"{name}: {model['parameters']} parameters in the run, {total} in "
                         "make_model")
        layers = model.get("layers")
        found += layer_mismatches(name, layers if isinstance(layers, list) else [], built)
    return found


def benchmark_name(batch, model, workers, pin, device, epochs) -> str:
    """trainbench's BM_TrainEpoch name, with Google Benchmark's suffixes."""
    return (f"BM_TrainEpoch/batch:{batch}/model:{model}/workers:{workers}/precision:fp32/"
            f"pin:{int(pin)}/device:{device}/iterations:{epochs}/manual_time")


def evaluate(model, images, labels, device) -> float:
    """Top-1 accuracy on the test set, normalized only."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for first in range(0, len(labels), 1000):
            x = ((images[first:first + 1000].float() / 255.0 - MEAN) / STD).unsqueeze(1)
            correct += (model(x.to(device)).argmax(1).cpu() == labels[first:first + 1000]).sum().item()
    model.train()
    return correct / len(labels)


def run_config(data, batch, model_name, workers, pin, device, epochs, warmup_steps, seed, quiet):
    """One BM_TrainEpoch-like benchmark row."""
    train_x, train_y, test_x, test_y = data
    torch.manual_seed(seed)
    model = make_model(model_name).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(
        AugmentedImages(train_x, train_y), batch_size=batch, shuffle=True, num_workers=workers,
        pin_memory=pin, persistent_workers=False)
    cuda = device.type == "cuda"

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x.to(device, non_blocking=pin)), y.to(device, non_blocking=pin))
        loss.backward()
        opt.step()
        return loss.detach()

    done = 0
    while done < warmup_steps:
        for x, y in loader:
            step(x, y)
            done += 1
            if done >= warmup_steps:
                break
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times, walls, last_loss = [], [], 0.0
    for epoch in range(epochs):
        wall0 = time.perf_counter()
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        loss_sum = torch.zeros((), device=device)
        batches = 0
        for x, y in loader:  # iter() starts the workers: inside the timed epoch, as trainbench
            loss_sum += step(x, y)
            batches += 1
        if cuda:
            end.record()
            end.synchronize()
            seconds = start.elapsed_time(end) / 1000.0
        else:
            seconds = time.perf_counter() - wall0
        walls.append(time.perf_counter() - wall0)
        times.append(seconds)
        last_loss = loss_sum.item() / batches
        if not quiet:
            print(f"[{PROG}] {benchmark_name(batch, model_name, workers, pin, device.type, epochs)} "
                  f"epoch {epoch + 1}/{epochs}: {len(train_y) / seconds:.0f} samples/s", file=sys.stderr)
    row = {
        "name": benchmark_name(batch, model_name, workers, pin, device.type, epochs),
        "run_name": benchmark_name(batch, model_name, workers, pin, device.type, epochs),
        "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1,
        "iterations": epochs, "real_time": sum(times) / epochs, "cpu_time": sum(walls) / epochs,
        "time_unit": "s",
        "samples_per_second": len(train_y) * epochs / sum(times),
        "wall_s_per_epoch": sum(walls) / epochs,
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "train_loss": last_loss,
        "test_acc": evaluate(model, test_x, test_y, device),
    }
    if cuda:
        row["peak_alloc_MB"] = torch.cuda.max_memory_allocated() / 2**20
        row["peak_reserved_MB"] = torch.cuda.max_memory_reserved() / 2**20
    return row


def parse_list(text: str, flag: str, convert=str) -> list:
    """'16,64' -> [16, 64]; a bad value raises ValueError naming the flag."""
    try:
        return [convert(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--{flag}={text}: not a list of {convert.__name__} values") from None


def build_parser() -> argparse.ArgumentParser:
    """Command-line interface; axis flags take comma-separated lists like trainbench's."""
    p = argparse.ArgumentParser(prog="pytorch_baseline.py", description=__doc__.split("\n")[0])
    p.add_argument("--batch", default="256")
    p.add_argument("--model", default="Medium")
    p.add_argument("--workers", default="4")
    p.add_argument("--pin", default=None, help="0,1 (default: 1 on cuda, 0 on cpu)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--samples", type=int, default=0,
                   help="training images (default: 60000 with a GPU, 2048 without)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--warmup_steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data_dir", default=os.environ.get("FASHION_MNIST_DIR")
                   or "/usr/share/datasets/fashion-mnist")
    p.add_argument("--dataset", choices=("fashion-mnist", "synthetic"), default="fashion-mnist")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("-o", "--output", required=True, metavar="FILE.json")
    return p


@cli.tool_main(PROG)
def main(argv=None) -> int:
    """Run every combination of the axis flags; exit 2 with one line on bad input."""
    args = build_parser().parse_args(argv)
    try:
        batches = parse_list(args.batch, "batch", int)
        models = parse_list(args.model, "model")
        workers = parse_list(args.workers, "workers", int)
        devices = parse_list(args.device, "device")
        for d in devices:
            if d not in ("cpu", "cuda"):
                raise ValueError(f"--device={d}: unknown device (expected cpu or cuda)")
            if d == "cuda" and not torch.cuda.is_available():
                raise ValueError("--device=cuda: no CUDA GPU is available on this machine")
        for m in models:
            make_model(m)
        if any(b <= 0 for b in batches) or any(w < 0 for w in workers) or args.epochs < 1:
            raise ValueError("--batch, --epochs must be positive and --workers >= 0")
        pins = None if args.pin is None else [bool(v) for v in parse_list(args.pin, "pin", int)]
        samples = args.samples or (60000 if "cuda" in devices else 2048)
        data = load_data(args.data_dir, samples, args.dataset == "synthetic", args.seed)
    except (ValueError, OSError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(os.cpu_count() or 1)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    for b in batches:
        for m in models:
            for w in workers:
                for d in devices:
                    for pin in (pins if pins is not None else [d == "cuda"]):
                        if pin and d == "cpu":
                            continue
                        rows.append(run_config(data, b, m, w, pin, torch.device(d), args.epochs,
                                               args.warmup_steps, args.seed, args.quiet))
    context = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_name": socket.gethostname(), "executable": f"python {sys.argv[0]}",
        "num_cpus": os.cpu_count(), "library_build_type": "release",
        "baseline": "plain PyTorch", "libtorch_version": torch.__version__,
        "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu only",
        "cpu_threads": str(torch.get_num_threads()), "train_samples": str(len(data[1])),
        "test_samples": str(len(data[3])),
        "data_dir": "synthetic" if args.dataset == "synthetic" else args.data_dir,
    }
    with open(args.output, "w") as f:
        json.dump({"context": context, "benchmarks": rows}, f, indent=2)
    print(f"{PROG}: wrote {len(rows)} benchmark(s) to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
