#!/usr/bin/env python3
"""One screen of what scripts/device_check.sh measured: phase 1's headline numbers against
the GPU targets, then the default suite's rows (skipped ones with their reason).

Usage: device_summary.py EPOCH.json STEP_FUSED.json STEP_LOOP.json [SUITE.json]
         [--traced TRACED.json] [--nccl NCCL.json] [--graph GRAPH.json] [--layout OFF.json ON.json]
(any may be missing: it says so). Without SUITE.json: phase 1 alone, which device_check.sh
prints as soon as phase 1 ends. Phase 1 runs without CUPTI and NCCL; TRACED.json has the same
epoch and fused steps traced (kernel busy, step span, kernels per step), NCCL.json the ranks:1
rows; counters missing from phase 1's files are read from them.
"""
import argparse
import json
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)["benchmarks"]
    except (OSError, ValueError, KeyError) as e:
        print(f"{path}: not readable ({e})")
        return []


def rows_by_name(rows):
    return {r["name"]: r for r in rows if r.get("run_type", "iteration") == "iteration"}


def find(rows, *parts, extra=None):
    for name, r in rows.items():
        if all(p in name for p in parts) and (extra is None or extra(r)):
            return r
    return None


def fmt(v, spec=".3g"):
    return "-" if v is None else format(v, spec)


def traced_counter(row, traced, key):
    """A CUPTI counter: from the row itself (a traced run), else from the traced run of it."""
    if key in row:
        return row[key]
    return traced.get(key) if traced and not traced.get("error_occurred") else None


def graph_lines(graph_rows, suite_rows):
    """graph:1 against the default suite's eager (graph:0) and cpu rows of the same step."""
    for name, g in graph_rows.items():
        if not name.startswith("BM_TrainStep/"):
            continue
        if g.get("error_occurred"):
            print(f"{name}: skipped: {g.get('error_message')}")
            continue
        eager = suite_rows.get(name.replace("/graph:1", "/graph:0"))
        cpu = suite_rows.get(name.replace("/graph:1", "/graph:0").replace("device:cuda", "device:cpu"))
        if "samples_per_second" not in g:
            continue
        ratio = g["samples_per_second"] / eager["samples_per_second"] if eager and not eager.get("error_occurred") else None
        print(f"{name.split('/manual_time')[0]}: {fmt(g['samples_per_second'], '.0f')} samples/s, "
              f"{fmt(ratio, '.2f')}x eager"
              + (f", cpu {fmt(cpu['samples_per_second'], '.0f')}" if cpu and "samples_per_second" in cpu else ""))
    for name, g in graph_rows.items():
        if name.startswith("BM_TrainEpoch/"):
            print(f"{name.split('/iterations')[0]}: "
                  + (f"skipped: {g.get('error_message')}" if g.get("error_occurred")
                     else f"{fmt(g.get('samples_per_second'), '.0f')} samples/s"))


def main(argv):
    parser = argparse.ArgumentParser(prog="device_summary.py")
    parser.add_argument("files", nargs=3)
    parser.add_argument("suite", nargs="?")
    parser.add_argument("--traced")
    parser.add_argument("--nccl")
    parser.add_argument("--graph")
    parser.add_argument("--layout", nargs=2)
    args = parser.parse_args(argv[1:])
    epoch_rows, fused_rows, loop_rows = (rows_by_name(load(p)) for p in args.files)
    suite_rows = rows_by_name(load(args.suite)) if args.suite else {}
    traced_rows = rows_by_name(load(args.traced)) if args.traced else {}
    nccl_rows = rows_by_name(load(args.nccl)) if args.nccl else {}
    print("== phase 1 (Medium, fp32, workers 4, pin 1)")
    plain = lambda r: "/ranks:" not in r["name"]
    epoch = find(epoch_rows, "BM_TrainEpoch/batch:256/", extra=plain)
    traced = find(traced_rows, "BM_TrainEpoch/batch:256/", extra=plain)
    if traced and traced.get("error_occurred"):
        print(f"epoch b256 traced (CUPTI): skipped: {traced.get('error_message')}")
    if epoch and epoch.get("error_occurred"):
        print(f"epoch b256: skipped: {epoch.get('error_message')}")
    elif epoch:
        wall_ratio = epoch["wall_s_per_epoch"] / epoch["real_time"] if epoch.get("real_time") else None
        busy, span = (traced_counter(epoch, traced, k) for k in ("gpu_kernel_busy_pct", "step_span_pct"))
        print(f"epoch b256: {fmt(epoch.get('samples_per_second'), '.0f')} samples/s (target >= 170000), "
              f"data_wait {fmt(epoch.get('data_wait_pct'))}% (< 2), "
              + (f"kernel busy {fmt(busy)}%, step span {fmt(span)}%, " if busy is not None or span is not None
                 else "kernel busy: not traced, ")
              + f"wall/events {fmt(wall_ratio, '.4f')} (within 1%)")
    for batch in (16, 256):
        fused = find(fused_rows, f"BM_TrainStep/batch:{batch}/")
        loop = find(loop_rows, f"BM_TrainStep/batch:{batch}/")
        for label, r in (("fused", fused), ("loop", loop)):
            if r and r.get("error_occurred"):
                print(f"step b{batch} {label}: skipped: {r.get('error_message')}")
        if fused and loop and not fused.get("error_occurred") and not loop.get("error_occurred"):
            ratio = fused["samples_per_second"] / loop["samples_per_second"]
            kernels = traced_counter(fused, find(traced_rows, f"BM_TrainStep/batch:{batch}/"), "kernel_ms_per_step")
            print(f"step b{batch}: fused {fmt(fused['samples_per_second'], '.0f')} vs loop "
                  f"{fmt(loop['samples_per_second'], '.0f')} samples/s = {ratio:.2f}x"
                  f"{' (target >= 1.3x)' if batch == 16 else ''}; fused step {fmt(fused.get('step_ms'))} ms, "
                  f"kernels {fmt(kernels)} ms/step")
        if epoch and fused and batch == 256 and not epoch.get("error_occurred") and not fused.get("error_occurred"):
            print(f"epoch b256 / step b256: {epoch['samples_per_second'] / fused['samples_per_second']:.1%} (target >= 95%)")
    for size in ("65536", "268435456"):
        r = find(epoch_rows, f"BM_HostToDevice/bytes:{size}/pinned:1")
        if r:
            print(f"H2D {size} B pinned: {fmt(r.get('GB_per_s'))} GB/s, {fmt(r.get('pcie_peak_pct'))}% of the link"
                  + (f" (skipped: {r.get('error_message')})" if r.get("error_occurred") else ""))
    # NCCL with a world of one (the ranks:1 rows a GPU run adds last; device_check.sh runs
    # them in their own process): the same epoch data-parallel over a group of one, against
    # the plain one, in the same run.
    ddp = find({**epoch_rows, **nccl_rows}, "BM_TrainEpoch/batch:256/", "/ranks:1")
    if ddp and ddp.get("error_occurred"):
        print(f"epoch b256 ranks:1 (NCCL): skipped: {ddp.get('error_message')}")
    elif ddp and epoch and not epoch.get("error_occurred"):
        print(f"epoch b256 ranks:1 (NCCL, DDP over one GPU): {fmt(ddp.get('samples_per_second'), '.0f')} samples/s = "
              f"{ddp['samples_per_second'] / epoch['samples_per_second']:.1%} of the plain epoch, "
              f"comm_exposed {fmt(ddp.get('comm_exposed_pct'))}%")
    for size in ("4096", "268435456"):
        r = find(nccl_rows, f"BM_AllReduce/bytes:{size}/") or find(suite_rows, f"BM_AllReduce/bytes:{size}/")
        if r:
            print(f"all-reduce {size} B ({r['name'].split('/')[2]}): "
                  + (f"skipped: {r.get('error_message')}" if r.get("error_occurred")
                     else f"{fmt(r.get('real_time'))} {r.get('time_unit')}, algbw {fmt(r.get('algbw_GB_per_s'))} GB/s"))
    if not args.suite:
        return 0
    errors = [r for r in suite_rows.values() if r.get("error_occurred")]
    print(f"== default suite: {len(suite_rows)} rows, {len(errors)} skipped")
    for r in suite_rows.values():
        name = r["name"].replace("/manual_time", "")
        if r.get("error_occurred"):
            print(f"{name}: skipped: {r.get('error_message')}")
        elif "samples_per_second" in r:
            print(f"{name}: {fmt(r['samples_per_second'], '.0f')}/s"
                  + (f" acc {fmt(r.get('test_acc'))}" if "test_acc" in r else ""))
        elif "GB_per_s" in r:
            print(f"{name}: {fmt(r['GB_per_s'])} GB/s")
        elif "algbw_GB_per_s" in r:
            print(f"{name}: algbw {fmt(r['algbw_GB_per_s'])} GB/s")
    if args.graph:
        print("== CUDA graphs (graph:1)")
        graph_lines(rows_by_name(load(args.graph)), suite_rows)
    if args.layout:
        off, on = (find(rows_by_name(load(p)), "BM_TrainStep/") for p in args.layout)
        if off and on and not off.get("error_occurred") and not on.get("error_occurred"):
            print(f"== Large bf16 b256 step: --channels_last --cudnn_benchmark {fmt(on['samples_per_second'], '.0f')} "
                  f"vs without {fmt(off['samples_per_second'], '.0f')} samples/s = "
                  f"{on['samples_per_second'] / off['samples_per_second']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
