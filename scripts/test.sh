#!/usr/bin/env bash
# Sets up, builds, and runs every test: the C++ tests through CTest, then the Python tests
# (tools and the binary end to end) through pytest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
.venv/bin/python -m pytest tests -q
