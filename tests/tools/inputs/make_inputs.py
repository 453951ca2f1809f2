"""Regenerates the synthetic Google Benchmark JSON files in this folder.

The files are committed; run this only to change them:
    .venv/bin/python tests/tools/inputs/make_inputs.py
They mimic Google Benchmark v1.7.1 JSON output (iteration rows, aggregates,
errored rows, time units ns..s) and trainbench's names, counters and context.
The numbers are made up; tests assert on them, so rerun the tests afterwards.

trainbench_gpu.json follows trainbench's real default sweep on a GPU machine
(bench/suite/lab_suite.cc DefaultEpochSweep/DefaultStepSweep, bench/families/transfer.cc), as
one default run writes it (one repetition, --epochs=2): its names, time
units, counters (sorted by name, as Google Benchmark writes them) and
context keys.  Only the numbers are invented (plausible for an H100 and
Fashion-MNIST).  trainbench_cpu.json is an older, smaller trainbench-like
file (iterations:1 names, CPU-only).  trainbench_ranks2.json and
trainbench_ranks4.json are rank 0's files of data-parallel runs of 2 and 4
ranks (CPU, Gloo): BM_TrainEpoch/.../graph:0/ranks:N with the scaling
counters, and BM_AllReduce/bytes:B/ranks:N; trainbench_cpu.json, whose
names have no ranks axis, is their world of one.

gbench_real_v171.json is not generated here: it is the real output of a small
Google Benchmark 1.7.1 program (Complexity(), SkipWithError, UseManualTime,
ArgNames, Threads, user counters), run with --benchmark_repetitions=3.
trainbench_real_cpu.json is not generated either: a real CPU-only trainbench
run (--dataset=synthetic --samples=256 --epochs=1 --batch=32,64
--model=Small,Medium --workers=0 --pin=0 --device=cpu
--benchmark_repetitions=2).
"""

import json
import math
import os

OUT = os.path.dirname(os.path.abspath(__file__))
UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}

def ctx(**extra):
    c = {"date": "2024-11-26T17:00:00+00:00", "host_name": "bench-host",
         "executable": "./build/bench", "num_cpus": 8, "mhz_per_cpu": 2800,
         "cpu_scaling_enabled": False,
         "caches": [{"type": "Data", "level": 1, "size": 32768, "num_sharing": 2},
                    {"type": "Unified", "level": 2, "size": 1048576, "num_sharing": 2}],
         "load_avg": [0.42, 0.35, 0.3], "library_build_type": "release"}
    c.update(extra)
    return c

class Builder:
    # family_per_name: every name is its own family, as with trainbench, which
    # registers each configuration with its own benchmark::RegisterBenchmark call.
    def __init__(self, family_per_name=False):
        self.rows = []
        self.family = {}
        self.family_per_name = family_per_name
    def bench(self, name, times_s, unit, counters_list, iterations=1, aggregates=True,
              aggregates_only=False, error=None):
        fam = name if self.family_per_name else name.split("/")[0]
        fi = self.family.setdefault(fam, len(self.family))
        pfi = sum(1 for r in self.rows if r["family_index"] == fi and r.get("repetition_index", 0) == 0 and r["run_type"] == "iteration")
        reps = len(times_s)
        base = {"family_index": fi, "per_family_instance_index": pfi, "run_name": name}
        if error:
            row = {"name": name, **base, "run_type": "iteration", "repetitions": reps,
                   "repetition_index": 0, "threads": 1, "error_occurred": True,
                   "error_message": error, "iterations": 0, "real_time": 0.0,
                   "cpu_time": 0.0, "time_unit": unit}
            self.rows.append(row)
            return
        its = []
        for i, (t, cs) in enumerate(zip(times_s, counters_list)):
            r = {"name": name, **base, "run_type": "iteration", "repetitions": reps,
                 "repetition_index": i, "threads": 1, "iterations": iterations,
                 "real_time": t / UNIT[unit], "cpu_time": t / UNIT[unit] * 0.97, "time_unit": unit}
            r.update(cs)
            its.append(r)
        if not aggregates_only:
            self.rows += its
        if reps > 1 and (aggregates or aggregates_only):
            def agg(aname, f, unit_kind="time"):
                r = {"name": f"{name}_{aname}", **base, "run_type": "aggregate",
                     "repetitions": reps, "threads": 1, "aggregate_name": aname,
                     "aggregate_unit": unit_kind, "iterations": reps}
                r["real_time"] = f([x["real_time"] for x in its])
                r["cpu_time"] = f([x["cpu_time"] for x in its])
                r["time_unit"] = unit
                for k in counters_list[0]:
                    r[k] = f([x[k] for x in its])
                return r
            mean = lambda v: sum(v) / len(v)
            med = lambda v: sorted(v)[len(v)//2] if len(v) % 2 else (sorted(v)[len(v)//2-1] + sorted(v)[len(v)//2]) / 2
            sd = lambda v: math.sqrt(sum((x - mean(v))**2 for x in v) / (len(v) - 1))
            cv = lambda v: sd(v) / mean(v) if mean(v) else 0.0
            self.rows += [agg("mean", mean), agg("median", med), agg("stddev", sd),
                          agg("cv", cv, "percentage")]
    def dump(self, fname, context):
        with open(os.path.join(OUT, fname), "w") as f:
            json.dump({"context": context, "benchmarks": self.rows}, f, indent=2)
            f.write("\n")

# ---- plain Google Benchmark output with repetitions + aggregates
def generic(fname, scale64=1.0, drop_spin=False, extra=False, aggregates_only=False, unit="ns",
            context=None):
    b = Builder()
    for size, t in ((8, [4.1e-9, 4.0e-9, 4.2e-9]), (64, [9.0e-9, 9.2e-9, 8.9e-9])):
        ts = [x * (scale64 if size == 64 else 1.0) for x in t]
        cs = [{"bytes_per_second": size / x, "items_per_second": 1 / x} for x in ts]
        b.bench(f"BM_memcpy/{size}", ts, unit, cs, iterations=100000000, aggregates_only=aggregates_only)
    if not drop_spin:
        ts = [2.0e-6, 2.1e-6, 1.9e-6]
        b.bench("BM_spin/iterations:1000/real_time/threads:2", ts, unit,
                [{"checks": 7} for _ in ts], iterations=1000, aggregates_only=aggregates_only)
    if extra:
        b.bench("BM_new_only", [1e-6, 1.1e-6, 1.05e-6], unit, [{} for _ in range(3)], 1000)
    b.dump(fname, context or ctx())

generic("gbench_repetitions.json")
generic("gbench_repetitions_slower.json", scale64=1.3, drop_spin=True, extra=True,
        context=ctx(host_name="bench-host-2", num_cpus=16))
generic("gbench_aggregates_only.json", aggregates_only=True, unit="us")

# errored
b = Builder()
b.bench("BM_memcpy/8", [4.1e-9], "ns", [{"bytes_per_second": 8 / 4.1e-9}], 1000, aggregates=False)
b.bench("BM_memcpy/64", [0], "ns", [{}], error="buffer allocation failed")
b.dump("gbench_errored.json", ctx())

# units: same durations expressed in different units
durs = {"BM_ns": 250e-9, "BM_us": 40e-6, "BM_ms": 3e-3, "BM_s": 2.5}
for fname, units in (("gbench_units_a.json", {"BM_ns": "ns", "BM_us": "us", "BM_ms": "ms", "BM_s": "s"}),
                     ("gbench_units_b.json", {"BM_ns": "us", "BM_us": "ns", "BM_ms": "s", "BM_s": "ms"})):
    b = Builder()
    for n, d in durs.items():
        b.bench(n, [d], units[n], [{}], 10, aggregates=False)
    b.dump(fname, ctx())

# ---- trainbench-like CPU run (older, smaller file)
def epoch_name(batch, model, workers, precision, pin, device):
    return (f"BM_TrainEpoch/batch:{batch}/model:{model}/workers:{workers}/precision:{precision}"
            f"/pin:{pin}/device:{device}/iterations:1/manual_time")

MODEL_PARAMS = {"Small": 0.11, "Medium": 1.2, "Large": 11.2}
TRAIN = 50000

def epoch_counters(batch, model, workers, device, t, reps_jitter=0.0):
    c = {"samples_per_second": TRAIN / t, "params_M": MODEL_PARAMS[model],
         "train_loss": 1.2 - 0.0005 * batch, "test_acc": 0.70 + 0.05 * math.log2(64 / batch) * 0.1 + {"Small": -0.05, "Medium": 0.0, "Large": 0.03}[model],
         "wall_s_per_epoch": t * 1.01, "data_wait_pct": 40.0 / (1 + workers),
         "host_peak_rss_MB": 900 + batch * 0.5 + MODEL_PARAMS[model] * 20}
    if device == "cuda":
        c.update({"peak_alloc_MB": 50 + batch * 1.5 + MODEL_PARAMS[model] * 16,
                  "peak_reserved_MB": 64 + batch * 2 + MODEL_PARAMS[model] * 20,
                  "gpu_busy_pct": 55 + workers * 4, "nvml_util_pct": 60 + workers * 3})
    return c

def epoch_time(batch, model, workers, device):
    base = {"cpu": 40.0, "cuda": 4.0}[device]
    m = {"Small": 0.4, "Medium": 1.0, "Large": 3.0}[model]
    w = {0: 2.0, 2: 1.3, 4: 1.0, 8: 0.95}[workers]
    return base * m * w * (64 / batch) ** 0.35

def trainbench(fname, device, reps, context, unit="s"):
    """The older trainbench-like CPU file (not trainbench's real sweep)."""
    b = Builder()
    seen = set()
    def add(batch, model, workers, pin, dev=device, precision="fp32"):
        n = epoch_name(batch, model, workers, precision, pin, dev)
        if n in seen:
            return
        seen.add(n)
        t = epoch_time(batch, model, workers, dev)
        ts = [t * (1 + 0.01 * i) for i in range(reps)]
        b.bench(n, ts, unit, [epoch_counters(batch, model, workers, dev, x) for x in ts])
    add(64, "Medium", 0, 0, dev="cpu")          # Part 1
    for batch in (32, 64, 128, 256):            # Part 2
        add(batch, "Medium", 4, 1)
    for batch in (64, 128):                     # a smaller pin:0 set (must not win)
        add(batch, "Medium", 4, 0)
    for model in ("Large", "Small", "Medium"):  # Part 3 (file order != lab order)
        add(64, model, 4, 1)
    for workers in (0, 2, 4, 8):                # Part 4
        add(64, "Medium", workers, 1)
    b.dump(fname, context)

cpu_ctx = ctx(host_name="lab-cpu-01", num_cpus=16, mhz_per_cpu=3000,
              device_name="cpu only", cpu_model="AMD EPYC 7B13",
              trainbench_version="0.1.0", git_commit="abc1234", libtorch_version="2.5.1",
              cpu_threads="16", dataset="CIFAR-10", data_dir="data/cifar-10",
              train_samples="50000", test_samples="10000")
trainbench("trainbench_cpu.json", "cpu", 1, cpu_ctx)

# ---- trainbench's real default sweep on a GPU machine (made-up numbers)
GPU_TRAIN, GPU_TEST = 60000, 10000
PARAMS = {"Small": 26698, "Medium": 421642, "Large": 6798730}   # models/models.h
PCIE_GBPS = 32.0 * 128 / 130 / 8 * 16                          # gen5 x16, one direction

# Epoch time (s) of every configuration in the default GPU sweep, in the
# order trainbench registers them; a configuration listed by two parts
# appears once (AppendUnique).  Key: (batch, model, workers, precision, pin, device).
GPU_EPOCHS = {}
for key, t in (
        ((64, "Medium", 0, "fp32", 0, "cpu"), 41.6),        # Part 1: CPU vs GPU
        ((64, "Medium", 0, "fp32", 0, "cuda"), 6.24),
        ((16, "Medium", 4, "fp32", 1, "cuda"), 9.82),       # Part 2: batch size
        ((64, "Medium", 4, "fp32", 1, "cuda"), 3.12),
        ((256, "Medium", 4, "fp32", 1, "cuda"), 1.46),
        ((1024, "Medium", 4, "fp32", 1, "cuda"), 1.13),
        ((256, "Small", 4, "fp32", 1, "cuda"), 1.05),       # Part 3: model
        ((256, "Medium", 4, "fp32", 1, "cuda"), 1.46),
        ((256, "Large", 4, "fp32", 1, "cuda"), 4.62),
        ((256, "Medium", 0, "fp32", 1, "cuda"), 3.91),      # Part 4: workers
        ((256, "Medium", 2, "fp32", 1, "cuda"), 2.08),
        ((256, "Medium", 4, "fp32", 1, "cuda"), 1.46),
        ((256, "Medium", 8, "fp32", 1, "cuda"), 1.32),
        ((256, "Large", 4, "fp32", 1, "cuda"), 4.62),       # precision
        ((256, "Large", 4, "tf32", 1, "cuda"), 2.91),
        ((256, "Large", 4, "fp16", 1, "cuda"), 2.18),
        ((256, "Large", 4, "bf16", 1, "cuda"), 2.27)):
    GPU_EPOCHS.setdefault(key, t)

# Step time (ms): (model, batch, device).
GPU_STEPS = {("Small", 16, "cpu"): 1.62, ("Small", 256, "cpu"): 14.5,
             ("Medium", 16, "cpu"): 5.84, ("Medium", 256, "cpu"): 62.0,
             ("Large", 16, "cpu"): 38.1, ("Large", 256, "cpu"): 521.0,
             ("Small", 16, "cuda"): 0.42, ("Small", 256, "cuda"): 0.55,
             ("Medium", 16, "cuda"): 0.61, ("Medium", 256, "cuda"): 1.05,
             ("Large", 16, "cuda"): 1.93, ("Large", 256, "cuda"): 6.84}
FORWARD_FLOPS = {"Small": 0.62e6, "Medium": 8.5e6, "Large": 121e6}   # per sample
ACTIVATION_MB = {"Small": 0.12, "Medium": 0.55, "Large": 2.4}       # per sample, fp32
LOSS_BY_BATCH = {16: 0.29, 64: 0.33, 256: 0.41, 1024: 0.58}
ACC_BY_BATCH = {16: 0.905, 64: 0.897, 256: 0.878, 1024: 0.842}
MODEL_LOSS = {"Small": 0.08, "Medium": 0.0, "Large": -0.05}
MODEL_ACC = {"Small": -0.031, "Medium": 0.0, "Large": 0.012}
HALF_PRECISION = ("fp16", "bf16")


def sorted_counters(c):
    """Google Benchmark writes a row's counters sorted by name (a std::map)."""
    return {k: c[k] for k in sorted(c)}


def gpu_epoch_counters(batch, model, workers, precision, device, t):
    wait = ({0: 38.0, 2: 12.4, 4: 4.6, 8: 2.1}[workers] if device == "cuda" else 1.5)
    c = {"samples_per_second": round(GPU_TRAIN / t, 3),
         "wall_s_per_epoch": round(t * 1.02 + 0.05, 4),
         "data_wait_pct": wait,
         "host_peak_rss_MB": round((1850.0 + 60 * workers + 0.4 * batch) if device == "cuda"
                                   else (1100.0 + 0.8 * batch), 2),
         "params_M": PARAMS[model] / 1e6,
         "train_loss": round(LOSS_BY_BATCH[batch] + MODEL_LOSS[model]
                             + (0.004 if precision in HALF_PRECISION else 0.0), 4),
         "test_acc": round(ACC_BY_BATCH[batch] + MODEL_ACC[model]
                           - (0.002 if precision in HALF_PRECISION else 0.0), 4)}
    if device == "cuda":
        act = ACTIVATION_MB[model] * (0.55 if precision in HALF_PRECISION else 1.0)
        alloc = round(PARAMS[model] * 4 * 4 / 2**20 + act * batch + 8.0, 2)
        busy = round(90.0 - 0.9 * wait, 1)
        c.update({"gpu_busy_pct": busy, "nvml_util_pct": min(100.0, busy + 3.0),
                  "peak_alloc_MB": alloc,
                  "peak_reserved_MB": float(2 * math.ceil((alloc * 1.25 + 20) / 2))})
    return sorted_counters(c)


def auto_iterations(seconds, min_time=0.5):
    """Iterations Google Benchmark settles on: a power of 10 reaching min_time."""
    return max(1, 10 ** math.ceil(math.log10(min_time / seconds)))


def transfer_gbps(to_device, pinned, size):
    peak = {(True, True): 53.6, (False, True): 52.1,
            (True, False): 22.4, (False, False): 18.7}[(to_device, pinned)]
    half = 262144 if pinned else 1048576
    return peak * size / (size + half)


def trainbench_gpu(fname, context):
    b = Builder(family_per_name=True)
    for (batch, model, workers, precision, pin, device), t in GPU_EPOCHS.items():
        name = (f"BM_TrainEpoch/batch:{batch}/model:{model}/workers:{workers}"
                f"/precision:{precision}/pin:{pin}/device:{device}/iterations:2/manual_time")
        b.bench(name, [t], "s",
                [gpu_epoch_counters(batch, model, workers, precision, device, t)],
                iterations=2)
    for device in ("cpu", "cuda"):
        for model in ("Small", "Medium", "Large"):
            for batch in (16, 256):
                ms = GPU_STEPS[(model, batch, device)]
                sps = batch / (ms / 1e3)
                c = {"samples_per_second": round(sps, 3), "step_ms": ms,
                     "tflops": round(3 * FORWARD_FLOPS[model] * sps / 1e12, 5)}
                if device == "cuda":
                    c["peak_alloc_MB"] = round(PARAMS[model] * 4 * 4 / 2**20
                                               + ACTIVATION_MB[model] * batch + 8.0, 2)
                b.bench(f"BM_TrainStep/batch:{batch}/model:{model}/precision:fp32"
                        f"/device:{device}/manual_time", [ms / 1e3], "ms",
                        [sorted_counters(c)], iterations=auto_iterations(ms / 1e3))
    # BM_DataLoader: one per (batch, workers, pin) of the epochs, in first-use order.
    loaders = []
    for (batch, _, workers, _, pin, _) in GPU_EPOCHS:
        if (batch, workers, pin) not in loaders:
            loaders.append((batch, workers, pin))
    for batch, workers, pin in loaders:
        sps = (610000.0 * max(1, workers) * (0.9 if pin else 1.0)
               * batch / (batch + 24))   # per-batch hand-off cost shows at small batches
        t = GPU_TRAIN / sps
        b.bench(f"BM_DataLoader/batch:{batch}/workers:{workers}/pin:{pin}/manual_time",
                [t], "ms", [{"samples_per_second": round(sps, 3)}],
                iterations=auto_iterations(t))
    for to_device in (True, False):
        fam = "BM_HostToDevice" if to_device else "BM_DeviceToHost"
        size = 65536
        while size <= 268435456:
            for pinned in (0, 1):
                gbps = round(transfer_gbps(to_device, bool(pinned), size), 3)
                t = size / (gbps * 1e9)
                b.bench(f"{fam}/bytes:{size}/pinned:{pinned}/manual_time", [t], "us",
                        [{"GB_per_s": gbps,
                          "pcie_peak_pct": round(100 * gbps / PCIE_GBPS, 2)}],
                        iterations=auto_iterations(t))
            size *= 4
    b.dump(fname, context)


gpu_ctx = ctx(host_name="gpu-node-7", executable="./build/trainbench", num_cpus=32,
              mhz_per_cpu=2400)
gpu_ctx.update(sorted({   # AddCustomContext keys: Google Benchmark writes them sorted
    "compute_capability": "9.0", "cpu_model": "Intel Xeon Platinum 8480+",
    "cpu_threads": "32", "cuda_driver_version": "12.8", "cuda_runtime_version": "12.4",
    "cudnn_version": "9.1.0", "data_dir": "/usr/share/datasets/fashion-mnist",
    "device_name": "NVIDIA H100 80GB HBM3", "git_commit": "abc1234",
    "gpu_memory_MB": "85029", "libtorch_version": "2.5.1", "pcie_link": "gen5 x16",
    "sm_count": "132", "test_samples": str(GPU_TEST), "train_samples": str(GPU_TRAIN),
    "trainbench_version": "0.1.0"}.items()))
trainbench_gpu("trainbench_gpu.json", gpu_ctx)

# ---- data-parallel runs: rank 0's file of a world of 2 and of 4 ranks (CPU, Gloo)
# The same BM_TrainEpoch configurations as trainbench_cpu.json's Part 2 (Medium, workers 4,
# pin 1, cpu; batch per rank), with graph:0 and ranks:N at the end of the names, plus
# BM_AllReduce/bytes:B/ranks:N.  trainbench_cpu.json (no ranks axis) is their ranks:1.
# Efficiency and exposed communication by world size; samples_per_second is global.
RANKS_EFFICIENCY = {2: 0.9, 4: 0.8}
ALLREDUCE_PEAK_GBPS = {2: 4.0, 4: 3.2}   # algbw the large sizes reach


def ranks_epoch_counters(batch, ranks, t):
    sps = TRAIN / t
    c = epoch_counters(batch, "Medium", 4, "cpu", t)
    c.update({"samples_per_second": round(sps, 3),
              "nosync_samples_per_second": round(sps / RANKS_EFFICIENCY[ranks], 3),
              "scaling_efficiency": RANKS_EFFICIENCY[ranks],
              "comm_exposed_pct": round(100 * (1 - RANKS_EFFICIENCY[ranks]), 2),
              "rank_max_s": round(t, 4), "rank_min_s": round(t * 0.96, 4)})
    return sorted_counters(c)


def trainbench_ranks(fname, ranks):
    b = Builder(family_per_name=True)
    for batch in (32, 64, 128, 256):
        one = epoch_time(batch, "Medium", 4, "cpu")       # trainbench_cpu.json's epoch
        t = round(one / (ranks * RANKS_EFFICIENCY[ranks]) / 0.97, 4)
        name = (f"BM_TrainEpoch/batch:{batch}/model:Medium/workers:4/precision:fp32/pin:1"
                f"/device:cpu/graph:0/ranks:{ranks}/iterations:1/manual_time")
        b.bench(name, [t], "s", [ranks_epoch_counters(batch, ranks, t)])
    size = 4096
    while size <= 268435456:
        algbw = round(ALLREDUCE_PEAK_GBPS[ranks] * size / (size + 262144), 4)
        t = size / (algbw * 1e9)
        b.bench(f"BM_AllReduce/bytes:{size}/ranks:{ranks}/manual_time", [t], "us",
                [{"algbw_GB_per_s": algbw,
                  "busbw_GB_per_s": round(algbw * 2 * (ranks - 1) / ranks, 4),
                  "bytes_per_second": algbw * 1e9}],
                iterations=auto_iterations(t))
        size *= 4
    context = dict(cpu_ctx, trainbench_version="0.3.0", executable="./build/trainbench",
                   cpu_threads="1")
    context.update({"world_size": str(ranks), "nodes": "1", "gpus_per_node": "0",
                    "launcher": "torchrun", "dist_backend": "gloo",
                    "dist_backend_version": "0.5.0", "dist_timeout_s": "120",
                    "ranks_per_node": str(ranks)})
    b.dump(fname, context)


trainbench_ranks("trainbench_ranks2.json", 2)
trainbench_ranks("trainbench_ranks4.json", 4)

# ---- bad inputs
src = open(os.path.join(OUT, "gbench_errored.json")).read()
open(os.path.join(OUT, "truncated.json"), "w").write(src[: len(src) // 2])
json.dump({"context": {"host_name": "x"}, "results": [{"name": "a", "time": 1}]},
          open(os.path.join(OUT, "not_gbench.json"), "w"), indent=2)
json.dump({"context": {}, "benchmarks": [{"name": "BM_a", "iterations": 3, "time_unit": "ns"}]},
          open(os.path.join(OUT, "rows_without_real_time.json"), "w"), indent=2)
