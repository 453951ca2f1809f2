#!/usr/bin/env bash
# The offline node's build, copied into a bundle as DIR/build.sh by scripts/offline_bundle.sh.
# Run from the repository's root: bash DIR/build.sh [BUILD_DIR] [extra cmake configure args].
# Unpacks DIR/debs into DIR/root, configures with Ninja against the node's own PyTorch
# ($PYTHON, default python3: torch.utils.cmake_prefix_path) into BUILD_DIR (default
# build-offline) and builds with every core. Writes DIR/env.sh, to source before running:
# LD_LIBRARY_PATH for the unpacked libraries and FASHION_MNIST_DIR for the data.
set -euo pipefail
bundle=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build-offline}
[ $# -gt 0 ] && shift
[ -f CMakeLists.txt ] || { echo "build.sh: $PWD: not the repository's root (no CMakeLists.txt)" >&2; exit 2; }
python=${PYTHON:-python3}
torch_cmake=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)') ||
  { echo "build.sh: $python: no PyTorch to build against" >&2; exit 2; }

deps="$bundle/root"
rm -rf "$deps"
mkdir -p "$deps"
for deb in "$bundle"/debs/*.deb; do dpkg-deb -x "$deb" "$deps"; done
libdir="$deps/usr/lib/x86_64-linux-gnu"
# Debian's libz.so is an absolute link into /lib, where the node may have no libz.so:
# point it at the unpacked runtime library, else at the node's own libz.so.1.
if [ ! -e "$(readlink -f "$libdir/libz.so")" ]; then
  z=$(ls "$libdir"/libz.so.1 /lib/x86_64-linux-gnu/libz.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1)
  ln -sf "$z" "$libdir/libz.so"
fi
# The packages' libraries were built against their release's glibc and libstdc++ (Debian 12's
# need at most GLIBC_2.34, GLIBCXX_3.4.30): a node with older ones would build, then fail when
# trainbench loads them. One line now instead; quietly skipped without objdump. The node's
# side counts the versions its libraries define (*UND* lines are what they need themselves).
node_libs=()
for l in libc.so.6 libm.so.6 libstdc++.so.6; do
  f=$("${CXX:-c++}" -print-file-name=$l 2>/dev/null) && [ -f "$f" ] && node_libs+=("$f")
done
versions() { grep -o 'GLIBC_[0-9.]*\|GLIBCXX_[0-9.]*\|CXXABI_[0-9.]*' | sort -u || true; }
if command -v objdump > /dev/null && [ ${#node_libs[@]} -eq 3 ]; then
  missing=$(comm -23 <(find "$deps" -name '*.so*' -type f -exec objdump -T {} + 2>/dev/null | versions) \
                     <(objdump -T "${node_libs[@]}" | grep -v '[*]UND[*]' | versions) | tr '\n' ' ')
  if [ -n "$missing" ]; then
    echo "build.sh: this node's libc/libstdc++ lack ${missing% } (needed by $deps): bundle an older release's packages" >&2; exit 1
  fi
fi
{
  echo "export LD_LIBRARY_PATH=$libdir:\${LD_LIBRARY_PATH:-}"
  echo "export FASHION_MNIST_DIR=$bundle/fashion-mnist"
} > "$bundle/env.sh"

mkdir -p "$build"
if ! cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_PREFIX_PATH="$torch_cmake;$deps/usr" "$@" > "$build/configure.log" 2>&1; then
  tail -40 "$build/configure.log"; echo "build.sh: configure failed ($build/configure.log)" >&2; exit 1
fi
if ! cmake --build "$build" -j"$(nproc)" > "$build/build.log" 2>&1; then
  grep -E -A4 'error|Error' "$build/build.log" | head -80; echo "build.sh: build failed ($build/build.log)" >&2; exit 1
fi
echo "build.sh: built into $build/ against torch $("$python" -c 'import torch; print(torch.__version__)'); now: source $bundle/env.sh"
