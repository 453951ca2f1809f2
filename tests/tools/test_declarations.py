"""Tests for tools/declarations.py: what trainbench's counters, axes and context mean, as the
run declares them or, for older files, as the fallback tables say."""

import json

import pytest

import declarations
import gbench
from conftest import input_path, row


def key(name, across=None, context=None):
    """gbench.match_key with the added axes of a run with this context (none: the fallback)."""
    return gbench.match_key(name, across, declarations.added_axes(context or {}))


# ---- fallback tables: files without declarations ----------------------------------------

@pytest.mark.parametrize("name,direction", [
    ("samples_per_second", "higher"), ("test_acc", "higher"), ("GB_per_s", "higher"),
    ("tflops", "higher"), ("step_span_pct", "higher"), ("nvml_util_pct", "higher"),
    ("gpu_kernel_busy_pct", "higher"), ("kernel_ms_per_step", "lower"),
    ("amp_skipped_steps", "lower"),
    ("pcie_peak_pct", "higher"),
    ("scaling_efficiency", "higher"), ("nosync_samples_per_second", "higher"),
    ("algbw_GB_per_s", "higher"), ("busbw_GB_per_s", "higher"),
    ("comm_exposed_pct", "lower"), ("rank_max_s", "lower"), ("rank_min_s", "lower"),
    ("peak_alloc_MB", "lower"), ("host_peak_rss_MB", "lower"), ("train_loss", "lower"),
    ("data_wait_pct", "lower"), ("step_ms", "lower"), ("wall_s_per_epoch", "lower"),
    ("peak_reserved_MB", "lower"),
    ("params_M", "neutral"), ("checks", "neutral"),
    ("items_per_second", "higher"), ("frames_per_s", "higher")])
def test_counter_direction(name, direction):
    assert declarations.counter_direction(name) == direction


def test_old_counter_names_read_as_the_current_ones():
    # trainbench 0.1.0 wrote gpu_busy_pct for what is now step_span_pct; an old GPU run
    # (tests/tools/inputs/trainbench_gpu.json) compares with a new one counter for counter.
    assert gbench.counters_of({"name": "x", "real_time": 1.0, "gpu_busy_pct": 55.8},
                              declarations.RENAMED_COUNTERS) == {"step_span_pct": 55.8}
    benches = declarations.collect_benchmarks(gbench.load_run(input_path("trainbench_gpu.json")))
    busy = [b.counter("step_span_pct") for b in benches.values()
            if b.family == "BM_TrainEpoch" and b.axes.get("device") == "cuda"]
    assert busy and all(v is not None and 0 < v <= 100 for v in busy)
    assert all(b.counter("gpu_busy_pct") is None for b in benches.values())


def test_names_from_before_the_graph_axis_match_graph_0():
    old = "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda/manual_time"
    new = "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda/graph:0/manual_time"
    assert key(old) == key(new) == new
    epoch_old = "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/iterations:2/manual_time"
    assert key(epoch_old) == (
        "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0"
        "/ranks:1/manual_time")
    graph1 = "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda/graph:1/manual_time"
    assert key(graph1) == graph1 != key(old)
    # Other families are left as they are.
    copy = "BM_HostToDevice/bytes:65536/pinned:1/manual_time"
    assert key(copy) == copy


EPOCH_AXES = "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cpu"


@pytest.mark.parametrize("name", [
    EPOCH_AXES + "/iterations:2/manual_time",                    # a world of one, before graph
    EPOCH_AXES + "/graph:0/iterations:2/manual_time",            # a world of one
    EPOCH_AXES + "/graph:0/ranks:1/manual_time",                 # said out loud
    EPOCH_AXES + "/ranks:1/iterations:3/manual_time"])           # ranks without graph
def test_an_epoch_without_a_ranks_axis_is_one_rank(name):
    # A world of one writes no ranks axis: its names match ranks:1, with graph:0 before it.
    assert key(name) == EPOCH_AXES + "/graph:0/ranks:1/manual_time"
    bench = gbench.Benchmark(name=name, family="BM_TrainEpoch",
                             axes=gbench.parse_name(name).axes,
                             absent=declarations.FALLBACK_ADDED_AXES["BM_TrainEpoch"])
    assert bench.axis("ranks") == "1" and bench.axis("graph") == "0"


def test_an_epoch_of_several_ranks_keeps_its_ranks_and_across_leaves_it_out():
    two = EPOCH_AXES + "/graph:0/ranks:2/iterations:2/manual_time"
    one = EPOCH_AXES + "/iterations:2/manual_time"
    assert key(two) == EPOCH_AXES + "/graph:0/ranks:2/manual_time"
    assert key(two) != key(one)
    assert key(two, across="ranks") == key(one, across="ranks") \
        == EPOCH_AXES + "/graph:0/manual_time"
    # Only BM_TrainEpoch lacks ranks when it means 1: BM_TrainStep and BM_AllReduce get none.
    step = "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda/graph:1/manual_time"
    assert key(step) == step
    allreduce = "BM_AllReduce/bytes:4096/ranks:2/manual_time"
    assert key(allreduce) == allreduce
    assert key(allreduce, across="ranks") == "BM_AllReduce/bytes:4096/manual_time"
    benches = declarations.collect_benchmarks(gbench.Run("x.json", {}, [row(two, 1.0, unit="s")]))
    assert benches[two].axis("ranks") == "2" and benches[two].axis("no_such") is None


def test_context_fields_are_unique_and_compare_skips_what_always_differs():
    keys = [k for k, _, _ in declarations.CONTEXT_FIELDS]
    assert len(keys) == len(set(keys))
    assert {k for k, _, compared in declarations.CONTEXT_FIELDS if not compared} == {
        "date", "executable"}


# ---- counters the run declares (context "counters", a JSON string) ----------------------

DECLARED = input_path("trainbench_declared_cpu.json")


def counters_context(*entries):
    """A context whose "counters" declares these (name, better[, unit]) counters, in
    trainbench's format (bench/families/counters.cc)."""
    return {"counters": json.dumps({"counters": [
        {"name": e[0], "better": e[1], "unit": e[2] if len(e) > 2 else "",
         "families": ["BM_a"], "meaning": "made up for a test"} for e in entries]})}


def test_a_declared_counter_takes_the_run_s_direction_and_unit():
    context = counters_context(("foo_ms", "lower", "ms"), ("train_loss", "neither"),
                               ("peak_alloc_MB", "higher"))
    assert declarations.counter_direction("foo_ms") == "neutral"          # unknown without it
    assert declarations.counter_direction("foo_ms", context) == "lower"
    assert declarations.counter_direction("train_loss", context) == "neutral"   # "neither"
    assert declarations.counter_direction("peak_alloc_MB", context) == "higher"
    assert declarations.counter_unit("foo_ms", context) == "ms"
    assert declarations.counter_unit("train_loss", context) is None       # empty unit
    # Not declared there: the fallback table.
    assert declarations.counter_direction("test_acc", context) == "higher"


def test_the_first_context_that_declares_a_counter_decides():
    says_lower = counters_context(("foo", "lower"))
    says_higher = counters_context(("foo", "higher"))
    assert declarations.counter_direction("foo", says_higher, says_lower) == "higher"
    assert declarations.counter_direction("foo", {}, says_lower) == "lower"
    assert declarations.counter_direction("foo", counters_context(("bar", "higher")),
                                          says_lower) == "lower"


@pytest.mark.parametrize("context", [
    {"counters": "not json"}, {"counters": json.dumps({"other": []})},
    {"counters": json.dumps({"counters": "x"})}, {"counters": 3},
    {"counters": json.dumps({"counters": [{"name": "train_loss", "better": "sideways"}]})}])
def test_a_broken_declaration_falls_back_to_the_table(context):
    assert declarations.counter_direction("train_loss", context) == "lower"
    assert declarations.counter_unit("train_loss", context) is None


def test_the_fallback_table_agrees_with_a_real_run_s_declaration():
    # trainbench_declared_cpu.json is a real run (0.3.0) that declares its counters: the
    # table for older files says the same of every counter both know.
    run = gbench.load_run(DECLARED)
    declared = declarations.declared_counters(run.context)
    assert {"samples_per_second", "train_loss", "params_M", "ddp_buckets"} <= set(declared)
    for name, entry in declared.items():
        assert declarations.fallback_direction(name) == declarations.BETTER[entry["better"]], name


# ---- axes the run declares (context "axes", a JSON string) ------------------------------

def axes_context(*entries):
    """A context whose "axes" declares these (name, families, absent) axes, in trainbench's
    format (bench/suite/axis_table.cc): absent is the value a name without the axis means, None
    (null) where a name always has it."""
    return {"axes": json.dumps({"axes": [
        {"name": n, "families": list(f), "absent": a, "help": ""} for n, f, a in entries]})}


STREAMS = axes_context(("batch", ["BM_TrainEpoch"], None),
                       ("graph", ["BM_TrainEpoch", "BM_TrainStep"], "0"),
                       ("stream", ["BM_TrainEpoch"], "0"),
                       ("ranks", ["BM_TrainEpoch", "BM_AllReduce"], "1"))


def test_a_real_run_s_declared_axes():
    run = gbench.load_run(DECLARED)
    assert declarations.added_axes(run.context) == {
        "BM_TrainEpoch": {"graph": "0", "ranks": "1"}, "BM_TrainStep": {"graph": "0"},
        "BM_AllReduce": {"ranks": "1"}}


def test_declared_axes_replace_the_fallback_in_their_order():
    assert declarations.added_axes(STREAMS) == {
        "BM_TrainEpoch": {"graph": "0", "stream": "0", "ranks": "1"},
        "BM_TrainStep": {"graph": "0"}, "BM_AllReduce": {"ranks": "1"}}
    # The new axis is filled in where the declaration puts it: after graph, before ranks.
    name = EPOCH_AXES + "/graph:0/ranks:2/iterations:1/manual_time"
    assert key(name, context=STREAMS) == EPOCH_AXES + "/graph:0/stream:0/ranks:2/manual_time"
    assert key(name) == EPOCH_AXES + "/graph:0/ranks:2/manual_time"     # fallback: no stream
    # A run whose names always spell out graph (absent null): a name without it stays so.
    always = axes_context(("graph", ["BM_TrainStep"], None))
    step = "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda/manual_time"
    assert key(step, context=always) == step
    assert key(step) == step.replace("/manual_time", "/graph:0/manual_time")
    assert declarations.added_axes({"axes": "{broken"}) == declarations.FALLBACK_ADDED_AXES


def test_declared_axes_reach_each_benchmark_and_merge_across_runs():
    run = gbench.Run("x.json", STREAMS, [row(EPOCH_AXES + "/iterations:1/manual_time", 1.0)])
    (bench,) = declarations.collect_benchmarks(run).values()
    assert (bench.axis("stream"), bench.axis("graph"), bench.axis("ranks")) == ("0", "0", "1")
    (old,) = declarations.collect_benchmarks(gbench.Run("y.json", {}, run.rows)).values()
    assert old.axis("stream") is None
    # Read together with an older file, the newer run's axis applies to both.
    merged = declarations.merged_added_axes({}, STREAMS)
    assert merged["BM_TrainEpoch"] == {"graph": "0", "ranks": "1", "stream": "0"}
    assert merged["BM_AllReduce"] == {"ranks": "1"}
