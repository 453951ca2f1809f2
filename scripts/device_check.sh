#!/usr/bin/env bash
# The GPU check, in one device call: runs THERE (the lent GPU machine), from the project's
# root, after ../shared/device/prepare.sh filled .devcarry/ here. Call the device tool with
#   carry [".devcarry"], command: bash scripts/device_check.sh
# It builds against the machine's own LibTorch (../shared/device/build.sh), runs the C++
# tests, the default suite into $OUT/<gpu>-<UTC date>.json, the out-of-memory check and the
# GPU end-to-end tests when pytest is there. Logs go to $OUT too.
set -uo pipefail
out=${OUT:?set OUT to the folder whose files come back}
bash .devcarry/build.sh > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
source .devcarry/env.sh
nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.max,pcie.link.width.max --format=csv > "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"
ctest --test-dir build-gpu -j"$(nproc)" --output-on-failure > "$out/ctest.log" 2>&1
echo "ctest: $(tail -3 "$out/ctest.log" | grep -E 'tests passed|tests failed' || echo 'see ctest.log')"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')
json="$out/${gpu:-gpu}-$(date -u +%Y%m%d).json"
./build-gpu/trainbench --benchmark_out="$json" --benchmark_out_format=json \
  > "$out/suite.txt" 2> "$out/progress.log"
echo "suite: exit $? -> $(basename "$json")"
grep -E '^BM_' "$out/suite.txt" | cut -c1-160
if python3 -c 'import pytest' 2>/dev/null; then
  # The e2e tests look for build/trainbench.
  ln -sfn build-gpu build 2>/dev/null || true
  python3 -m pytest tests/test_trainbench_e2e.py -q -rs > "$out/pytest.log" 2>&1
  echo "pytest: $(tail -1 "$out/pytest.log")"
else
  ./build-gpu/trainbench --device=cuda --model=Large --batch=262144,256 --warmup_steps=1 \
    --benchmark_filter=BM_TrainStep > "$out/oom.txt" 2>&1
  echo "oom check: exit $?"; grep -E 'out of memory|BM_' "$out/oom.txt" | cut -c1-200
fi
