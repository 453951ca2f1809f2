#!/usr/bin/env bash
# The GPU check, in one budgeted device call. Runs THERE (the lent GPU machine, which has no
# network), from the project's root, after `bash scripts/offline_bundle.sh .devcarry` filled
# .devcarry/ here (git-ignored: the Debian packages, the data and its build.sh). Call the
# device tool with carry [".devcarry"] and command: bash scripts/device_check.sh
#
# GPU time is scarce, so the headline numbers come first and every step has its own time
# limit (seconds below): a later step that fails or hangs cannot take them away.
#   build    Ninja, every core, into build-gpu/ (.devcarry/build.sh)                 ~1-2 min
#   phase 1  Medium b256 w4 pin:1 fp32: one epoch pair, BM_TrainStep (b16 and b256) with
#            --adam=fused and --adam=loop, BM_HostToDevice 64 KiB and 256 MiB pinned  ~1 min
#   phase 2  the default suite's CUDA rows, one process (and JSON) per family     ~3 min
#   phase 2b the CUDA graph capture tests and graph:1 rows, channels_last and cuDNN
#            autotuning on Large bf16 against without, each in its own process     ~1.5 min
#   phase 2c the default suite's CPU rows; the suite merged into one file          ~1 min
#   phase 3  C++ tests and the GPU end-to-end tests, if time is left                  ~1 min
# Every limit is capped by what is left of an overall deadline (DEADLINE_S, 470 s), so the
# call ends within 8 minutes on an H100; it writes at most 8 files to $OUT:
#   env.txt (GPU, clocks, throttle reasons, topology, PCIe link), log.txt (every step's
#   output), p1-epoch.json, p1-step-fused.json, p1-step-loop.json, <gpu>-<UTC date>.json
#   (the default suite), graph.json (the graph:1 rows), summary.txt (which also has the
#   channels_last/cudnn_benchmark comparison), and build.log only when the build fails.
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

# ---- phase 1: the headline numbers
centre=(--device=cuda --model=Medium --precision=fp32 --workers=4 --pin=1)
step "phase1 epoch+transfers" 90 "$bin" "${centre[@]}" --batch=256 \
  --benchmark_filter='^BM_TrainEpoch|^BM_HostToDevice/bytes:(65536|268435456)/pinned:1' \
  --benchmark_out="$work/p1-epoch.json" --benchmark_out_format=json
keep p1-epoch.json
for adam in fused loop; do
  step "phase1 step adam=$adam" 60 "$bin" "${centre[@]}" --batch=16,256 --adam=$adam \
    --benchmark_filter='^BM_TrainStep' --benchmark_out="$work/p1-step-$adam.json" \
    --benchmark_out_format=json
  keep "p1-step-$adam.json"
done
# While the GPU is still warm: clocks and the link under the load just finished.
nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,pcie.link.gen.current,pcie.link.width.current,clocks_throttle_reasons.active --format=csv >> "$out/env.txt" 2>&1

# ---- phase 2: the default suite's CUDA rows, one process per family
# BM_AllReduce: the ranks:1 rows on NCCL, which a run on a GPU adds last.
for family in BM_TrainEpoch BM_TrainStep BM_DataLoader BM_HostToDevice BM_DeviceToHost BM_AllReduce; do
  step "phase2 $family" 100 "$bin" --benchmark_filter="^$family/.*(device:cuda|pin:1|bytes:)" \
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
python3 scripts/merge_json.py "$suite" "$work"/p2-*.json >> "$log" 2>&1

# ---- phase 3: tests, while time is left (the whole call must end within 8 minutes)
if [ $(( deadline - $(date +%s) )) -gt 60 ]; then
  step "ctest" 60 ctest --test-dir build-gpu -j"$(nproc)" --output-on-failure
  if python3 -c 'import pytest' 2>/dev/null; then
    ln -sfn build-gpu build 2>/dev/null || true  # the e2e tests look for build/trainbench
    step "pytest gpu e2e" 60 python3 -m pytest tests/test_trainbench_e2e.py -q -rs -k "cuda or gpu or transfers or fused or pinned"
  fi
fi

python3 scripts/device_summary.py "$out/p1-epoch.json" "$out/p1-step-fused.json" \
  "$out/p1-step-loop.json" "$suite" --graph "$out/graph.json" \
  --layout "$work/layout-off.json" "$work/layout-on.json" | tee "$out/summary.txt"
echo "device_check: $(( $(date +%s) - start ))s; files: $(ls "$out" | tr '\n' ' ')"
