"""What the tests of compare.py and comparison.py share: their input runs and the difference
report of two of them."""

import comparison
import gbench
from conftest import input_path

REPS = input_path("gbench_repetitions.json")
SLOWER = input_path("gbench_repetitions_slower.json")
AGG_ONLY = input_path("gbench_aggregates_only.json")
ERRORED = input_path("gbench_errored.json")
CPU = input_path("trainbench_cpu.json")
GPU = input_path("trainbench_gpu.json")
SPIN = "BM_spin/iterations:1000/real_time/threads:2"


def report_for(base, new, name_filter=None):
    return comparison.get_difference_report(gbench.load_run(base), gbench.load_run(new),
                                            name_filter)


def by_name(report):
    return {r["name"]: r for r in report["benchmarks"]}
