#!/usr/bin/env bash
# The main job: set up, build, run the default lab suite (on the GPU if there is one, else a
# CPU-sized run), and write results/<host>-<UTC timestamp>.json with its CSV, plots and
# report next to it, ingest it into results/history.sqlite and write results/history.html. Extra arguments go to trainbench (e.g. --benchmark_filter=...).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
mkdir -p results
out="results/$(hostname)-$(date -u +%Y%m%dT%H%M%SZ).json"
echo "lab: running the default suite into $out"
status=0
./build/trainbench --benchmark_out="$out" --benchmark_out_format=json "$@" || status=$?
if [ -s "$out" ]; then
  .venv/bin/python tools/lab_outputs.py "$out"
  # The results history (git-ignored, rebuilt from the JSON files whenever deleted): every run
  # in results/ so far, and its page next to the report. check is not run here: a regression
  # is for CI to gate on (tools/README.md#history); the page shows it either way.
  .venv/bin/python tools/history.py ingest results/history.sqlite results
  .venv/bin/python tools/history.py report results/history.sqlite results/history.html
fi
exit "$status"
