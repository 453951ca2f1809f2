#!/usr/bin/env bash
# The GPU check, in one budgeted device call. Runs THERE (the lent GPU machine, which has no
# network), from the project's root, after `bash scripts/offline_bundle.sh .devcarry` filled
# .devcarry/ here (git-ignored: the Debian packages, the data and its build.sh). Call the
# device tool with carry [".devcarry"] and command: bash scripts/device_check.sh
#
# GPU time is scarce, so the headline numbers come first and every step has its own time
# limit (seconds below): a later step that fails or hangs cannot take them away.
#   build    Ninja, every core, into build-gpu/ (.devcarry/build.sh)               240 s
#   phase 1  Medium b256 w4 pin:1 fp32, without CUPTI (--trace_epoch=false) or NCCL (no
#            ranks: rows): the epoch and BM_HostToDevice 64 KiB and 256 MiB pinned 70 s,
#            BM_TrainStep b16 and b256 with --adam=fused 45 s and --adam=loop 45 s; its
#            summary is printed at once (within 3 minutes of the phase's start)
#   phase 1b the same epoch and fused steps traced with CUPTI (kernel busy, step span,
#            kernels per step)                                                      60 s
#   phase 1c NCCL over a world of one: the epoch's ranks:1 twin and BM_AllReduce ranks:1 75 s
#   phase 2  the default suite's other CUDA rows, one process (and JSON) per family 100 s each
#   phase 2b the CUDA graph capture tests 40 s and graph:1 rows 80 s, channels_last and
#            cuDNN autotuning on Large bf16 against without 40 s each, own processes
#   phase 2c the default suite's CPU rows 90 s; the suite (phase 1c's rows too) merged
#   phase 3  C++ tests and the GPU end-to-end tests, 60 s each, if time is left
# Every limit is capped by what is left of an overall deadline (DEADLINE_S, 470 s), so the
# call ends within 8 minutes on an H100; it writes at most 8 files to $OUT:
#   env.txt (GPU, clocks, throttle reasons, topology, PCIe link), log.txt (every step's
#   output), p1-epoch.json, p1-step-fused.json, p1-step-loop.json, <gpu>-<UTC date>.json
#   (the default suite with phase 1c's rows), graph.json (the graph:1 rows), summary.txt
#   (phase 1b's counters and the channels_last/cudnn_benchmark comparison too; phase 1b's
#   JSON stays behind, its rows being phase 1's names again); build.log only when the build
#   fails, and then alone.
set -uo pipefail
out=${OUT:?set OUT to the folder whose files come back}
start=$(date +%s)
deadline=$(( start + ${DEADLINE_S:-470} ))
log="$out/log.txt"
work=$(mktemp -d)  # JSON is written here and copied to $OUT complete (no stray temp files)
step() {  # step NAME SECONDS CMD...: CMD under min(SECONDS, time left), output to log.txt
  local name=$1 limit=$2; shift 2
  local left=$(( deadline - $(date +%s) - 15 ))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 20 ]; then
    echo "$name: skipped, the time budget is spent" | tee -a "$log"; return 124
  fi
  echo "== $name (limit ${limit}s, at $(( $(date +%s) - start ))s)" >> "$log"
  timeout --kill-after=5 "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  echo "== $name: exit $rc" >> "$log"
  echo "$name: exit $rc ($(( $(date +%s) - start ))s)"
  return $rc
}
# keep FILE: copy a JSON back if it is complete (a step killed by its limit can leave it cut)
keep() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/$1" 2>/dev/null && cp "$work/$1" "$out/$1"; }

if [ ! -f .devcarry/build.sh ]; then
  echo "device_check: .devcarry/build.sh: missing (run bash scripts/offline_bundle.sh .devcarry first)" >&2; exit 2
fi
if ! timeout 240 bash .devcarry/build.sh build-gpu > "$work/build.log" 2>&1; then
  cp "$work/build.log" "$out/build.log"; tail -40 "$work/build.log"; exit 1
fi
tail -1 "$work/build.log"
source .devcarry/env.sh
bin=./build-gpu/trainbench

{
  nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.max,pcie.link.width.max,pcie.link.gen.current,pcie.link.width.current --format=csv
  nvidia-smi -q -d CLOCK,PERFORMANCE
  nvidia-smi topo -m
} > "$out/env.txt" 2>&1
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')

# ---- phase 1: the headline numbers, without CUPTI or NCCL, which can stall a process
centre=(--device=cuda --model=Medium --precision=fp32 --workers=4 --pin=1)
# A plain epoch row: graph:G then /iterations; a data-parallel (NCCL) one has /ranks:N
# between them. The filter is a POSIX extended regex, with no lookahead to say "no ranks:".
plain='graph:[0-9]+/(iterations|manual_time)'
step "phase1 epoch+transfers" 70 "$bin" "${centre[@]}" --batch=256 --trace_epoch=false \
  --benchmark_filter="^BM_TrainEpoch/.*$plain|^BM_HostToDevice/bytes:(65536|268435456)/pinned:1" \
  --benchmark_out="$work/p1-epoch.json" --benchmark_out_format=json
keep p1-epoch.json
for adam in fused loop; do
  step "phase1 step adam=$adam" 45 "$bin" "${centre[@]}" --batch=16,256 --adam=$adam \
    --trace_epoch=false --benchmark_filter='^BM_TrainStep' \
    --benchmark_out="$work/p1-step-$adam.json" --benchmark_out_format=json
  keep "p1-step-$adam.json"
done
# Now, so that it arrives even if a later step hangs the call.
p1=("$out/p1-epoch.json" "$out/p1-step-fused.json" "$out/p1-step-loop.json")
python3 scripts/device_summary.py "${p1[@]}" 2>&1 | tee -a "$log"
# While the GPU is still warm: clocks and the link under the load just finished.
timeout 10 nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,pcie.link.gen.current,pcie.link.width.current,clocks_throttle_reasons.active --format=csv >> "$out/env.txt" 2>&1

# ---- phase 1b: the same epoch and fused steps with CUPTI kernel tracing (the default)
step "phase1b traced" 60 "$bin" "${centre[@]}" --batch=16,256 --adam=fused \
  --benchmark_filter="^BM_TrainEpoch/batch:256/.*$plain|^BM_TrainStep" \
  --benchmark_out="$work/p1-traced.json" --benchmark_out_format=json

# ---- phase 1c: NCCL with a world of one, the rows a GPU run adds last: the epoch's
# data-parallel twin (DDP's cost against phase 1's plain epoch) and the all-reduce sizes.
step "phase1c nccl ranks:1" 75 "$bin" "${centre[@]}" --batch=256 --trace_epoch=false \
  --benchmark_filter='^(BM_TrainEpoch|BM_AllReduce)/.*/ranks:1/' \
  --benchmark_out="$work/nccl.json" --benchmark_out_format=json

# ---- phase 2: the default suite's CUDA rows, one process per family; the ranks:1 rows
# (NCCL) were phase 1c's, so NCCL trouble there cannot cut these families' files short.
for family in BM_TrainEpoch BM_TrainStep BM_DataLoader BM_HostToDevice BM_DeviceToHost; do
  rows="^$family/.*(device:cuda|pin:1|bytes:)"
  [ "$family" = BM_TrainEpoch ] && rows="^$family/.*device:cuda/$plain"
  step "phase2 $family" 100 "$bin" --benchmark_filter="$rows" \
    --benchmark_out="$work/p2-$family.json" --benchmark_out_format=json
done

# ---- phase 2b: not in the default suite yet, after the eager families, each in its own
# process (a failed capture loses only that process's CUDA context): the capture's own
# test, the graph:1 rows, then channels_last with autotuned cuDNN on Large bf16 against
# without.
step "graph capture tests" 40 ./build-gpu/trainbench_torch_tests --gtest_filter='GraphCaptureTest.*'
step "graph rows" 80 "$bin" --device=cuda --graph=1 --model=Small,Medium --batch=16,256 \
  --workers=4 --pin=1 --benchmark_filter='^BM_Train(Step|Epoch)/.*graph:1' \
  --benchmark_out="$work/graph.json" --benchmark_out_format=json
keep graph.json
for layout in off on; do
  flags=(); [ "$layout" = on ] && flags=(--channels_last --cudnn_benchmark)
  step "Large bf16 layout $layout" 40 "$bin" --device=cuda --model=Large --precision=bf16 \
    --batch=256 "${flags[@]}" --benchmark_filter='^BM_TrainStep' \
    --benchmark_out="$work/layout-$layout.json" --benchmark_out_format=json
done

# ---- phase 2c: the default suite's CPU rows, then the suite as one file
step "phase2 cpu rows" 90 "$bin" --benchmark_filter='device:cpu|^BM_DataLoader/.*pin:0' \
  --benchmark_out="$work/p2-cpu.json" --benchmark_out_format=json
suite="$out/${gpu:-gpu}-$(date -u +%Y%m%d).json"
python3 scripts/merge_json.py "$suite" "$work"/p2-*.json "$work/nccl.json" >> "$log" 2>&1

# ---- phase 3: tests, while time is left (the whole call must end within 8 minutes)
if [ $(( deadline - $(date +%s) )) -gt 60 ]; then
  step "ctest" 60 ctest --test-dir build-gpu -j"$(nproc)" --output-on-failure
  if python3 -c 'import pytest' 2>/dev/null; then
    ln -sfn build-gpu build 2>/dev/null || true  # the e2e tests look for build/trainbench
    step "pytest gpu e2e" 60 python3 -m pytest tests/test_trainbench_e2e.py -q -rs -k "cuda or gpu or transfers or fused or pinned"
  fi
fi

python3 scripts/device_summary.py "${p1[@]}" "$suite" --traced "$work/p1-traced.json" \
  --nccl "$work/nccl.json" --graph "$out/graph.json" \
  --layout "$work/layout-off.json" "$work/layout-on.json" | tee "$out/summary.txt"
echo "device_check: $(( $(date +%s) - start ))s; files: $(ls "$out" | tr '\n' ' ')"
