#!/usr/bin/env python3
"""Merges Google Benchmark JSON files of one machine into one: the first readable file's
context, every file's benchmarks in order. Used by scripts/device_check.sh, which runs each
family in its own process so that one family's failure cannot take the others' results.

Usage: merge_json.py OUT.json IN.json [IN.json ...]. A missing or unreadable input is named
on stderr and left out; the exit status is 1 when none was readable.
"""
import json
import os
import sys


def main(argv):
    if len(argv) < 3:
        print("usage: merge_json.py OUT.json IN.json [IN.json ...]", file=sys.stderr)
        return 2
    out, inputs = argv[1], argv[2:]
    merged = None
    for path in inputs:
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"merge_json.py: {path}: left out: {e}", file=sys.stderr)
            continue
        if merged is None:
            merged = {"context": doc.get("context", {}), "benchmarks": []}
        merged["benchmarks"].extend(doc.get("benchmarks", []))
    if merged is None:
        print("merge_json.py: no readable input", file=sys.stderr)
        return 1
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(merged, f, indent=2)
    os.replace(tmp, out)
    print(f"merge_json.py: {out}: {len(merged['benchmarks'])} benchmarks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
