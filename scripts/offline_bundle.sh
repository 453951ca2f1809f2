#!/usr/bin/env bash
# Fills DIR with what building and running trainbench on an offline GPU node needs beyond
# PyTorch itself (which the node has: its LibTorch is what trainbench links). Run it on a
# machine with network and Debian's package lists (apt-get download needs no root):
#   DIR/debs/          Debian's .deb files of Google Benchmark, Abseil, GoogleTest/GMock, zlib
#                      and Gloo's headers (libgloo-dev: LibTorch's c10d headers include them)
#   DIR/fashion-mnist/ the four Fashion-MNIST .gz files
#   DIR/build.sh       the node's build: unpacks the .debs into DIR/root, configures with Ninja
#                      against the node's own PyTorch (torch.utils.cmake_prefix_path) and
#                      builds; it writes DIR/env.sh (library path and data directory)
# Then copy the repository and DIR to the node and, from the repository's root there:
#   bash DIR/build.sh [BUILD_DIR] [extra cmake configure arguments]; source DIR/env.sh
# Extra Debian package names can follow DIR. About 35 MB.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: offline_bundle.sh DIR [extra Debian packages...]" >&2
  exit 2
fi
dir=$1; shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$dir/debs" "$dir/fashion-mnist" || { echo "offline_bundle: $dir: cannot create" >&2; exit 2; }
dir=$(cd "$dir" && pwd)

# The -dev packages and the runtime libraries they link to (Debian 12's names).
pkgs="libbenchmark-dev libbenchmark1debian libabsl-dev libabsl20220623 libgtest-dev libgmock-dev zlib1g-dev libgloo-dev $*"
download() {  # download DEST PACKAGES...: apt-get download into DEST, once more after an update
  local dest=$1; shift
  fetch() { ( cd "$dest" && apt-get download "$@" 2>&1 | grep -v '^W: Download is performed unsandboxed'; exit "${PIPESTATUS[0]}" ); }
  fetch "$@" || { apt-get update -qq && fetch "$@"; }
}
rm -f "$dir"/debs/*.deb
download "$dir/debs" $pkgs

data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then  # not installed here: Debian's package
  tmp=$(mktemp -d)
  download "$tmp" dataset-fashion-mnist
  dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/x"
  data="$tmp/x/usr/share/datasets/fashion-mnist"
fi
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  cp "$data/$f.gz" "$dir/fashion-mnist/" || { echo "offline_bundle: $data/$f.gz: missing" >&2; exit 2; }
done
cp "$root/scripts/offline_build.sh" "$dir/build.sh"
echo "offline_bundle: $(du -sh "$dir" | cut -f1) in $dir ($(ls "$dir/debs" | wc -l) packages); on the node, from the repository's root: bash $(basename "$dir")/build.sh && source $(basename "$dir")/env.sh"
