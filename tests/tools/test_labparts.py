"""Tests for tools/labparts.py: choosing the points of each lab part."""

import io
import os
import json

import pytest

import declarations
import gbench
import labparts
import plot
import report
from conftest import input_path, row, write_doc


def benches_of(name):
    return declarations.collect_benchmarks(gbench.load_run(input_path(name)))


def fake(name, time_s=1.0, error=None, **counters):
    """A Benchmark built from a name, one sample."""
    parsed = gbench.parse_name(name)
    bench = gbench.Benchmark(name=name, family=parsed.family, axes=parsed.axes,
                             error=error,
                             absent=declarations.FALLBACK_ADDED_AXES.get(parsed.family, {}))
    if error is None:
        bench.times_s = [time_s]
        bench.source = "iterations"
        bench.counters = {k: [v] for k, v in counters.items()}
    return bench


def as_dict(*benches):
    return {b.name: b for b in benches}


def epoch(batch=64, model="Medium", workers=4, pin=1, device="cuda", precision="fp32"):
    return (f"BM_TrainEpoch/batch:{batch}/model:{model}/workers:{workers}/"
            f"precision:{precision}/pin:{pin}/device:{device}/iterations:1/manual_time")


@pytest.mark.parametrize("name, batches, device", [
    # The set covering most batches, sorted numerically.
    ("trainbench_cpu.json", ["32", "64", "128", "256"], "cpu"),
    ("trainbench_gpu.json", ["16", "64", "256", "1024"], "cuda"),
])
def test_part2_picks_the_set_covering_most_batches(name, batches, device):
    sel = labparts.select_part(labparts.PART2, benches_of(name))
    assert sel.xs == batches
    assert sel.settings == {"model": "Medium", "workers": "4", "precision": "fp32",
                            "pin": "1", "device": device}


def test_preferred_settings_break_coverage_ties():
    benches = as_dict(fake(epoch(32, pin=0)), fake(epoch(64, pin=0)),
                      fake(epoch(32, pin=1)), fake(epoch(64, pin=1)))
    assert labparts.select_part(labparts.PART2, benches).settings["pin"] == "1"


def test_coverage_beats_preference():
    benches = as_dict(fake(epoch(32, pin=0)), fake(epoch(64, pin=0)), fake(epoch(128, pin=0)),
                      fake(epoch(32, pin=1)), fake(epoch(64, pin=1)))
    sel = labparts.select_part(labparts.PART2, benches)
    assert sel.settings["pin"] == "0" and sel.xs == ["32", "64", "128"]


def test_errored_benchmarks_are_not_points():
    benches = as_dict(fake(epoch(32)), fake(epoch(64), error="CUDA out of memory"))
    assert labparts.select_part(labparts.PART2, benches).xs == ["32"]


def test_part3_lab_model_order():
    sel = labparts.select_part(labparts.PART3, benches_of("trainbench_gpu.json"))
    assert sel.xs == ["Small", "Medium", "Large"]   # file order is Medium, Small, Large
    assert sel.settings == {"batch": "256", "workers": "4", "precision": "fp32",
                            "pin": "1", "device": "cuda"}


def test_part1_fixed_axes_and_devices():
    sel = labparts.select_part(labparts.PART1, benches_of("trainbench_gpu.json"))
    assert sel.xs == ["cpu", "cuda"]
    assert sel.settings == {"workers": "0", "precision": "fp32", "pin": "0"}
    assert sel.describe() == ("BM_TrainEpoch, model=Medium, batch=64, workers=0, "
                              "precision=fp32, pin=0")
    only_batch_32 = as_dict(fake(epoch(32, device="cpu")), fake(epoch(32, device="cuda")))
    assert labparts.select_part(labparts.PART1, only_batch_32) is None


def test_part4_workers_numeric():
    sel = labparts.select_part(labparts.PART4, benches_of("trainbench_gpu.json"))
    assert sel.xs == ["0", "2", "4", "8"]
    assert sel.settings == {"batch": "256", "model": "Medium", "precision": "fp32",
                            "pin": "1", "device": "cuda"}


def test_precision_comes_from_train_epoch_in_the_real_gpu_sweep():
    assert labparts.select_part(labparts.PRECISION, benches_of("trainbench_cpu.json")) is None
    sel = labparts.select_part(labparts.PRECISION, benches_of("trainbench_gpu.json"))
    # BM_TrainStep runs fp32 only; precision varies only in BM_TrainEpoch
    assert sel.family == "BM_TrainEpoch"
    assert sel.xs == ["fp32", "tf32", "fp16", "bf16"]
    assert sel.settings == {"batch": "256", "model": "Large", "workers": "4", "pin": "1",
                            "device": "cuda"}


def test_precision_considers_train_step():
    step = "BM_TrainStep/batch:256/model:Medium/precision:{}/device:cuda/manual_time"
    benches = as_dict(fake(step.format("fp32")), fake(step.format("bf16")),
                      fake(epoch(256, precision="fp32")))
    sel = labparts.select_part(labparts.PRECISION, benches)
    assert sel.family == "BM_TrainStep" and sel.xs == ["fp32", "bf16"]


def test_unrelated_run_selects_nothing():
    benches = benches_of("gbench_repetitions.json")
    for part in labparts.FALLBACK_PARTS:
        assert labparts.select_part(part, benches) is None
    assert labparts.bandwidth_series(benches) == {}


def test_bandwidth_series_from_counter_and_from_time():
    series = labparts.bandwidth_series(benches_of("trainbench_gpu.json"))
    assert list(series) == [("H2D", True), ("H2D", False), ("D2H", True), ("D2H", False)]
    sizes = [size for size, _ in series[("H2D", True)]]
    assert sizes == [65536 * 4 ** k for k in range(7)]
    assert sizes[-1] == 268435456
    assert all([s for s, _ in points] == sizes for points in series.values())
    assert series[("H2D", True)][-1][1] > series[("H2D", False)][-1][1]
    computed = labparts.bandwidth_series(as_dict(
        fake("BM_HostToDevice/bytes:1000000/pinned:1/manual_time", time_s=1e-4)))
    assert computed[("H2D", True)] == [(1000000, pytest.approx(10.0))]


def test_peak_memory_choice():
    gpu = [("32", fake(epoch(32), peak_alloc_MB=100.0, host_peak_rss_MB=900.0))]
    cpu = [("32", fake(epoch(32, device="cpu"), host_peak_rss_MB=900.0))]
    assert labparts.peak_memory(gpu)[0] == "peak_alloc_MB"
    assert labparts.peak_memory(gpu, device="cpu")[0] == "host_peak_rss_MB"
    assert labparts.peak_memory(cpu) == ("host_peak_rss_MB", "Peak host RSS (MB)")
    zero_alloc = [("32", fake(epoch(32), peak_alloc_MB=0.0, host_peak_rss_MB=900.0))]
    assert labparts.peak_memory(zero_alloc)[0] == "host_peak_rss_MB"
    assert labparts.peak_memory([("32", fake(epoch(32)))]) == (None, None)


def test_x_sort_key():
    assert sorted(["128", "32", "64"], key=lambda v: labparts.x_sort_key(labparts.PART2, v)) \
        == ["32", "64", "128"]
    assert sorted(["Large", "Huge2", "Small"],
                  key=lambda v: labparts.x_sort_key(labparts.PART3, v)) \
        == ["Small", "Large", "Huge2"]


def test_loader_alone_matches_settings_and_defaults_pin_to_0():
    benches = as_dict(
        fake("BM_DataLoader/batch:256/workers:4/pin:1/manual_time", samples_per_second=9.0),
        fake("BM_DataLoader/batch:256/workers:4/pin:0/manual_time", samples_per_second=5.0),
        fake("BM_DataLoader/batch:64/workers:2/pin:0/manual_time", error="boom"),
        fake(epoch(batch=256, workers=4), samples_per_second=1.0))
    assert labparts.loader_alone(benches, "256", "4", "1").counter("samples_per_second") == 9.0
    assert labparts.loader_alone(benches, "256", "4", None).counter("samples_per_second") == 5.0
    assert labparts.loader_alone(benches, "256", "2", "1") is None
    assert labparts.loader_alone(benches, "64", "2", "0") is None   # errored


# ---- lab_parts: the suite as trainbench declares it (bench/suite/lab_suite.cc), read from the context.

CPU_CENTRE = {"batch": "256", "model": "Medium", "workers": "2", "precision": "fp32",
              "pin": "0", "device": "cpu"}


def lab_parts_context(part2_values, centre=None):
    """A context whose lab_parts declares Part 2 with these batch values, the way trainbench
    writes it (a JSON string value)."""
    part2 = {"key": "part2", "title": "Part 2: Batch size effects", "families": ["BM_TrainEpoch"],
             "centre": centre or CPU_CENTRE, "vary": "batch",
             "sweeps": [{"axis": "batch", "values": part2_values}]}
    return {"lab_parts": json.dumps({"parts": [part2]})}


def part_of(context, key):
    """The part ``key`` as a run with this context has it (labparts.parts_for)."""
    return next(p for p in labparts.parts_for(context) if p.key == key)


def batch_run(tmp_path, context, batches=(16, 32, 64, 128, 256, 512)):
    rows = [row(epoch(b, workers=2, pin=0, device="cpu"), 1.0 + b / 1000, unit="s",
                samples_per_second=1000.0 + b, test_acc=0.8)
            for b in batches]
    return gbench.load_run(write_doc(tmp_path / "run.json", rows, context))


def test_declared_sweep_value_changes_the_report_and_plots_with_no_python_edit(tmp_path, monkeypatch):
    # 512 is not in the fallback table nor in the suite trainbench ships: only the declaration
    # in the run's context puts it into Part 2.
    run = batch_run(tmp_path, lab_parts_context(["32", "512"]))
    md = report.build_report(run)
    part2 = md.split("## Part 2: Batch size effects")[1].split("## ")[0]
    assert [line.split("|")[1].strip() for line in part2.splitlines()
            if line.startswith("| ") and line[2].isdigit()] == ["32", "512"]
    seen = {}
    real = plot.figure_part2

    def spy(selections, path, subtitle):
        seen["xs"] = [sel.xs for _, sel in selections]
        return real(selections, path, subtitle)

    monkeypatch.setattr(plot, "figure_part2", spy)
    plot.make_plots([run], str(tmp_path / "plots"), log=io.StringIO())
    assert seen["xs"] == [["32", "512"]]


def test_without_lab_parts_the_fallback_table_takes_every_value(tmp_path):
    run = batch_run(tmp_path, {})
    sel = labparts.select_part(part_of(run.context, "part2"), declarations.collect_benchmarks(run))
    assert sel.xs == ["16", "32", "64", "128", "256", "512"]
    assert labparts.parts_for(run.context) == labparts.FALLBACK_PARTS
    assert labparts.parts_for({"lab_parts": "not json"}) == labparts.FALLBACK_PARTS


def test_declared_values_not_measured_fall_back_to_what_was(tmp_path):
    # A run made with --batch=16,64 (axis flags): the declared sweep was not run, but the
    # report still shows the batches that were.
    run = batch_run(tmp_path, lab_parts_context(["1024", "4096"]), batches=(16, 64))
    part = part_of(run.context, "part2")
    assert part.values == ("1024", "4096")
    assert labparts.select_part(part, declarations.collect_benchmarks(run)).xs == ["16", "64"]


def test_declared_centre_is_the_preferred_setting(tmp_path):
    # Two complete batch sweeps, at 2 and at 1 workers: the declared centre picks workers 1,
    # where the fallback table (which prefers 4, matched by neither) takes the first seen.
    rows = [row(epoch(b, workers=w, pin=0, device="cpu"), 1.0, unit="s")
            for w in (2, 1) for b in (16, 64)]
    context = lab_parts_context(["16", "64"], centre={**CPU_CENTRE, "workers": "1"})
    run = gbench.load_run(write_doc(tmp_path / "run.json", rows, context))
    benches = declarations.collect_benchmarks(run)
    assert labparts.select_part(part_of(run.context, "part2"), benches).settings["workers"] == "1"
    assert labparts.select_part(labparts.PART2, benches).settings["workers"] == "2"


def test_declared_model_order_comes_from_the_sweep():
    declared = {"key": "part3", "vary": "model", "families": ["BM_TrainEpoch"],
                "centre": CPU_CENTRE, "sweeps": [{"axis": "model", "values": ["Large", "Small"]}]}
    part = labparts.part_from_declaration(labparts.PART3, declared)
    assert part.order == ("Large", "Small", "Medium")
    assert part.prefer == {k: v for k, v in CPU_CENTRE.items() if k != "model"}
    assert part.filename == labparts.PART3.filename   # presentation stays Python's


def test_scaling_prefers_a_runs_ranks1_row_to_its_plain_row():
    # A GPU run's data-parallel row over one GPU is its ranks:1 point; another run's plain row
    # at the same settings does not replace it (the first run's point is kept).
    x = "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0"
    plain = fake(x + "/iterations:2/manual_time", samples_per_second=100000.0)
    ddp1 = fake(x + "/ranks:1/iterations:2/manual_time", samples_per_second=80000.0)
    ddp8 = fake(x + "/ranks:8/iterations:2/manual_time", samples_per_second=600000.0)
    other_plain = fake(x + "/iterations:2/manual_time", samples_per_second=1.0)
    runs = [{plain.name: plain, ddp1.name: ddp1}, {ddp8.name: ddp8, "x": other_plain}]
    (settings, points), = labparts.scaling_groups(runs)
    assert [(r, b.counter("samples_per_second")) for r, b in points] == [(1, 80000.0), (8, 600000.0)]
    # Without the ranks:1 row, the plain row is the one-rank point.
    (settings, points), = labparts.scaling_groups([{plain.name: plain}, {ddp8.name: ddp8}])
    assert points[0] == (1, plain)


def test_scaling_reads_the_ranks_axis_as_the_run_declares_it(tmp_path):
    # Without "axes" (or declaring ranks absent "1", as trainbench does) a plain epoch is the
    # one-rank point; a run that declared ranks always spelled out (absent null) has none.
    x = "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cpu/graph:0"
    rows = [row(x + "/iterations:1/manual_time", 1.0, "s", samples_per_second=100.0),
            row(x + "/ranks:2/iterations:1/manual_time", 1.0, "s", samples_per_second=180.0)]

    def points(absent):
        """The world sizes of the scaling group with ranks declared so (None: no "axes";
        "null": declared with absent null)."""
        declared = {"name": "ranks", "families": ["BM_TrainEpoch"],
                    "absent": None if absent == "null" else absent, "help": ""}
        context = {} if absent is None else {"axes": json.dumps({"axes": [declared]})}
        run = gbench.load_run(write_doc(tmp_path / "run.json", rows, context))
        (_, pts), = labparts.scaling_groups([declarations.collect_benchmarks(run)])
        return [r for r, _ in pts]

    assert points(None) == points("1") == [1, 2]
    assert points("null") == [2]


# ---- parts only the run declares, in the run's order --------------------------------------

STREAM_PART = {"key": "streams", "title": "Copy streams", "families": ["BM_TrainEpoch"],
               "centre": {**CPU_CENTRE, "batch": "64"}, "vary": "stream",
               "sweeps": [{"axis": "stream", "values": ["1", "2", "4"]}]}


def declared_suite_run(tmp_path, parts):
    """A CPU run whose lab_parts declares ``parts`` (in that order), with Part 2's batches
    and an epoch per stream count (a made-up axis no table of the tools knows)."""
    part2 = json.loads(lab_parts_context(["16", "64"])["lab_parts"])["parts"][0]
    known = {"part2": part2, "streams": STREAM_PART,
             "loader": {"key": "loader", "title": "The loader alone", "families": ["BM_DataLoader"],
                        "centre": {}, "vary": "workers", "sweeps": []}}
    rows = [row(epoch(b, workers=2, pin=0, device="cpu"), 1.0, "s", samples_per_second=100.0)
            for b in (16, 64)]
    rows += [row(epoch(64, workers=2, pin=0, device="cpu").replace(
        "/iterations", f"/stream:{n}/iterations"), 1.0 / n, "s", samples_per_second=100.0 * n)
        for n in (4, 1, 2)]
    context = {"lab_parts": json.dumps({"parts": [known[p] for p in parts]})}
    return gbench.load_run(write_doc(tmp_path / "run.json", rows, context))


def test_a_part_only_the_run_declares_is_reported_and_plotted(tmp_path, monkeypatch):
    run = declared_suite_run(tmp_path, ["streams", "part2", "loader"])
    # The run's parts, in its order; the loader is shown in Part 4, not as a part.
    assert [p.key for p in labparts.parts_for(run.context)] == ["streams", "part2"]
    part = part_of(run.context, "streams")
    assert (part.filename, part.vary, part.values, part.numeric) == (
        "streams.png", "stream", ("1", "2", "4"), True)
    md = report.build_report(run)
    assert md.index("## Copy streams") < md.index("## Part 2: Batch size effects")
    section = md.split("## Copy streams")[1].split("## ")[0]
    assert "| stream | Epoch Time (s) | Samples/s |" in section
    assert [line.split("|")[1].strip() for line in section.splitlines()
            if line.startswith("| ") and line[2].isdigit()] == ["1", "2", "4"]
    assert "## Part 1" not in md                  # not declared
    assert "## The loader alone" not in md        # shown in Part 4
    seen = {}
    real = plot.figure_declared

    def spy(selections, path, subtitle):
        seen[os.path.basename(path)] = [sel.xs for _, sel in selections]
        return real(selections, path, subtitle)

    monkeypatch.setattr(plot, "figure_declared", spy)
    written = plot.make_plots([run], str(tmp_path / "plots"), log=io.StringIO())
    assert [os.path.basename(p) for p in written] == ["streams.png", "part2_batch_size_effects.png"]
    assert seen == {"streams.png": [["1", "2", "4"]]}


def test_a_declared_part_is_drawn_for_the_runs_that_declare_it(tmp_path):
    # An older file beside it has no "streams" part: the figure has the declaring run only.
    run = declared_suite_run(tmp_path, ["part2", "streams"])
    older = gbench.load_run(write_doc(tmp_path / "older.json", run.rows))
    parts = plot.parts_by_key([older, run])
    assert list(parts) == [p.key for p in labparts.FALLBACK_PARTS] + ["streams"]
    assert parts["streams"][0] is None and parts["streams"][1].vary == "stream"
    log = io.StringIO()
    written = plot.make_plots([older, run], str(tmp_path / "plots"), log=log)
    assert "streams.png" in {os.path.basename(p) for p in written}
    fig = plot.figure_declared([("run", labparts.select_part(
        parts["streams"][1], declarations.collect_benchmarks(run)))],
        str(tmp_path / "s.png"), "")
    time_ax, rate_ax = fig.axes[:2]
    assert [list(line.get_xdata()) for line in time_ax.get_lines()] == [[1.0, 2.0, 4.0]]
    assert rate_ax.get_ylabel() == "Throughput (samples/s)"


def test_a_declared_part_with_words_for_values_is_categorical():
    part = labparts.new_part({"key": "k", "vary": "kernel", "families": ["BM_TrainStep"],
                              "sweeps": [{"axis": "kernel", "values": ["fused", "plain"]}]})
    assert not part.numeric and part.order == ("fused", "plain") and part.title == "k"


def test_model_order_comes_from_the_declared_sweeps():
    assert labparts.model_order({}) == labparts.MODEL_ORDER
    declared = {"lab_parts": json.dumps({"parts": [
        {"key": "part2", "vary": "batch", "sweeps": [{"axis": "batch", "values": ["16"]}]},
        {"key": "part3", "vary": "model",
         "sweeps": [{"axis": "model", "values": ["Tiny", "Large", "Small"]}]}]})}
    assert labparts.model_order(declared) == ("Tiny", "Large", "Small", "Medium")
    models = {"models": json.dumps({"models": [{"name": "Small"}, {"name": "Huge"}]})}
    assert labparts.model_order(models) == ("Small", "Huge", "Medium", "Large")
    # The real run declares Small, Medium, Large.
    assert labparts.model_order(gbench.load_run(
        input_path("trainbench_declared_cpu.json")).context) == ("Small", "Medium", "Large")


def test_a_declared_part_s_key_never_names_a_path_and_odd_fields_are_ignored():
    part = labparts.new_part({"key": "../../x y", "vary": "batch", "families": "BM_TrainEpoch",
                              "centre": ["not", "a", "dict"], "sweeps": [{"axis": "batch"}]})
    assert part.filename == "______x_y.png"
    assert (part.families, part.prefer, part.values) == ((), {}, ())
