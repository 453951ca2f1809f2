#!/usr/bin/env bash
# Sets up, builds, and runs every test: the C++ tests through CTest, then the Python tests
# (tools and the binary end to end) through pytest, then the torch-free tests under ASan and
# UBSan and the IDX/gzip fuzzer for 60 s (scripts/sanitize.sh: 1 min 40 s to 2 min on 2
# cores when build-sanitize/ is new, about 1 min once built).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
.venv/bin/python -m pytest tests -q
bash scripts/sanitize.sh
