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


def summary(*args):
    """device_summary.py's stdout for these arguments, once it has exited 0."""
    proc = script("device_summary.py", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def assert_has_lines(text, expected):
    """Each line of ``expected`` is in ``text``; a failure names the text."""
    missing = [line for line in expected if line not in text]
    assert not missing, text


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
    assert_has_lines(summary(epoch, fused, loop, suite, "--graph", graph), (
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
    ))


def test_summary_reads_cupti_counters_and_nccl_rows_from_their_own_runs(tmp_path):
    # device_check.sh's phase 1 runs without CUPTI and NCCL: its epoch lacks the kernel
    # counters and has no ranks:1 twin; phase 1b (traced) and 1c (NCCL) bring them.
    epoch = doc(tmp_path / "epoch.json", [
        row(EPOCH + "/iterations:2/manual_time", samples_per_second=171000.0, data_wait_pct=1.5,
            wall_s_per_epoch=1.005)])
    fused = doc(tmp_path / "fused.json", [row(STEP.format(16, 0), samples_per_second=26000.0, step_ms=0.6)])
    loop = doc(tmp_path / "loop.json", [row(STEP.format(16, 0), samples_per_second=20000.0)])
    headline = summary(epoch, fused, loop)
    assert "kernel busy: not traced, wall/events 1.0050" in headline, headline
    assert "== default suite" not in headline  # phase 1 alone, before the suite exists
    traced = doc(tmp_path / "traced.json", [
        row(EPOCH + "/iterations:2/manual_time", samples_per_second=170500.0, gpu_kernel_busy_pct=80.0,
            step_span_pct=97.0),
        row(STEP.format(16, 0), samples_per_second=25900.0, kernel_ms_per_step=0.2)])
    nccl = doc(tmp_path / "nccl.json", [
        row(EPOCH + "/ranks:1/iterations:2/manual_time", samples_per_second=153900.0, comm_exposed_pct=3.0),
        row("BM_AllReduce/bytes:4096/ranks:1/manual_time", algbw_GB_per_s=2.0)])
    suite = doc(tmp_path / "suite.json", [row(STEP.format(16, 0), samples_per_second=26000.0)])
    assert_has_lines(summary(epoch, fused, loop, suite, "--traced", traced, "--nccl", nccl), (
        "data_wait 1.5% (< 2), kernel busy 80%, step span 97%, wall/events 1.0050 (within 1%)",
        "fused step 0.6 ms, kernels 0.2 ms/step",
        "epoch b256 ranks:1 (NCCL, DDP over one GPU): 153900 samples/s = 90.0% of the plain epoch",
        "all-reduce 4096 B (ranks:1): 1 s, algbw 2 GB/s",
        "== default suite: 1 rows, 0 skipped",
    ))
    broken = doc(tmp_path / "broken.json", [row(EPOCH + "/iterations:2/manual_time", error_occurred=True,
                                                error_message="CUPTI: not initialized")])
    proc = script("device_summary.py", epoch, fused, loop, suite, "--traced", broken)
    assert "epoch b256 traced (CUPTI): skipped: CUPTI: not initialized" in proc.stdout, proc.stdout


# A stand-in for build-gpu/trainbench: it records each call's flags and the names its
# --benchmark_filter selects (with grep -E: Google Benchmark's filter is a POSIX extended
# regex too) and writes them as rows, as the real one registers them for these flags.
FAKE_TRAINBENCH = r'''#!/usr/bin/env bash
flags=" $* "; out=; filter=.; batches=16,256; graph=0
for a in "$@"; do case $a in
  --benchmark_out=*) out=${a#*=};; --benchmark_filter=*) filter=${a#*=};;
  --batch=*) batches=${a#*=};; --graph=*) graph=${a#*=};; esac; done
names=$(for b in ${batches//,/ }; do for g in ${graph//,/ }; do
  for d in cuda cpu; do
    echo "BM_TrainEpoch/batch:$b/model:Medium/workers:4/precision:fp32/pin:1/device:$d/graph:$g/iterations:2/manual_time"
    echo "BM_TrainStep/batch:$b/model:Medium/precision:fp32/device:$d/graph:$g/manual_time"
  done; done; done
  for n in 65536 268435456; do for p in 0 1; do
    echo "BM_HostToDevice/bytes:$n/pinned:$p/manual_time"; echo "BM_DeviceToHost/bytes:$n/pinned:$p/manual_time"
  done; done
  echo "BM_DataLoader/batch:256/workers:4/pin:1/manual_time"
  echo "BM_TrainEpoch/batch:${batches%%,*}/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0/ranks:1/iterations:2/manual_time"
  echo "BM_AllReduce/bytes:4096/ranks:1/manual_time")
picked=$(grep -E -- "$filter" <<< "$names")
printf '%s\t%s\n' "$flags" "$(echo $picked)" >> "$FAKE_CALLS"
[ -n "$picked" ] || { echo "trainbench: --benchmark_filter=$filter: matches no benchmark" >&2; exit 2; }
[ -z "$out" ] && exit 0
{ echo '{"context": {}, "benchmarks": ['; sep=
  for n in $picked; do
    printf '%s{"name": "%s", "run_type": "iteration", "real_time": 1.0, "time_unit": "s", "samples_per_second": 1000.0, "wall_s_per_epoch": 1.0}\n' "$sep" "$n"; sep=,
  done; echo ']}'; } > "$out"
'''


def test_device_check_phase_one_runs_without_cupti_or_nccl_and_prints_at_once(tmp_path):
    for name in ("device_check.sh", "device_summary.py", "merge_json.py"):
        (tmp_path / "scripts").mkdir(exist_ok=True)
        (tmp_path / "scripts" / name).write_text((ROOT / "scripts" / name).read_text())
    (tmp_path / ".devcarry").mkdir()
    (tmp_path / ".devcarry" / "build.sh").write_text("echo build.sh: built\n")
    (tmp_path / ".devcarry" / "env.sh").write_text("")
    (tmp_path / "build-gpu").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for path, text in ((tmp_path / "build-gpu" / "trainbench", FAKE_TRAINBENCH),
                       (bin_dir / "nvidia-smi", "#!/bin/sh\necho NVIDIA H200\n")):
        path.write_text(text)
        path.chmod(0o755)
    out, calls = tmp_path / "out", tmp_path / "calls.txt"
    out.mkdir()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "OUT": str(out), "FAKE_CALLS": str(calls),
           "DEADLINE_S": "60"}  # phase 3 (the real tests) is skipped: under 60 s left
    proc = subprocess.run(["bash", "scripts/device_check.sh"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.split("\t") for line in calls.read_text().splitlines()]
    by_out = {next(f.split("/")[-1] for f in flags.split() if f.startswith("--benchmark_out=")): (flags, picked)
              for flags, picked in rows if "--benchmark_out=" in flags}
    for name in ("p1-epoch.json", "p1-step-fused.json", "p1-step-loop.json"):
        flags, picked = by_out[name]
        assert " --trace_epoch=false " in flags, (name, flags)
        assert picked and "ranks:" not in picked, (name, picked)
    assert "BM_TrainEpoch/batch:256/" in by_out["p1-epoch.json"][1]
    assert "BM_HostToDevice/bytes:268435456/pinned:1/" in by_out["p1-epoch.json"][1]
    flags, picked = by_out["p1-traced.json"]
    assert "--trace_epoch" not in flags and "BM_TrainEpoch/batch:256/" in picked and "ranks:" not in picked
    picked = by_out["nccl.json"][1].split()
    assert len(picked) == 2 and all("/ranks:1/" in n for n in picked), picked
    assert not [n for f, (_, p) in by_out.items() if f.startswith("p2-") for n in p.split() if "ranks:" in n]
    # Phase 1's summary comes before the CUPTI and NCCL steps start.
    assert proc.stdout.index("epoch b256: 1000 samples/s") < proc.stdout.index("phase1b traced: exit 0")
    assert len(list(out.iterdir())) <= 8, sorted(p.name for p in out.iterdir())
    suite = json.loads(next(out.glob("NVIDIA-H200-*.json")).read_text())
    assert any("/ranks:1/" in r["name"] for r in suite["benchmarks"])  # phase 1c's rows merged
