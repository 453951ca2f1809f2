#!/usr/bin/env bash
# Installs what trainbench needs on a fresh Debian machine and builds it into build/.
# Idempotent: a second run installs nothing and rebuilds only what changed.
#   - Debian packages: compiler, CMake, Ninja, Google Benchmark, Abseil, GoogleTest, zlib,
#     Gloo's headers (libgloo-dev: c10d's ProcessGroupGloo.hpp includes them, the wheel lacks them),
#     the Fashion-MNIST data (dataset-fashion-mnist), and clang with its sanitizer and
#     libFuzzer runtimes (libclang-rt-dev) for scripts/sanitize.sh, clang-format for
#     tests/test_format.py, and chromium with chromium-driver for the history page's browser
#     test (tests/tools/test_history_page.py; selenium drives it, never a downloaded browser).
#   - .venv/: the PyTorch wheel (its LibTorch is what we link) and the tools' numpy, scipy,
#     matplotlib and pytest (requirements.txt).
# The CUDA toolkit is expected on the machine already (it is on ours); without it, CMake's
# configure of the CUDA LibTorch fails and says so.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

debs="g++ cmake ninja-build git python3-venv libbenchmark-dev libabsl-dev libgtest-dev libgmock-dev libgloo-dev zlib1g-dev dataset-fashion-mnist clang libclang-rt-dev clang-format chromium chromium-driver"
missing=""
for p in $debs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing > /dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
# pip only downloads when requirements.txt asks for something not yet installed.
if ! .venv/bin/python -m pip install --disable-pip-version-check -q -r requirements.txt; then
  echo "setup: pip install -r requirements.txt failed" >&2
  exit 1
fi

torch_cmake=$(.venv/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)')
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_cmake" \
    > build-configure.log 2>&1 || { tail -30 build-configure.log; echo "setup: cmake configure failed (build-configure.log)" >&2; exit 1; }
  rm -f build-configure.log
fi
cmake --build build -j"$(nproc)"
