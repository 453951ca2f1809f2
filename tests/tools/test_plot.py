"""Tests for tools/plot.py: figures are real PNGs, missing parts are skipped."""

import io
import json
import os

import pytest

import declarations
import gbench
import labparts
import plot
import plot_draw
from conftest import input_path, row, run_script, write_doc

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALL = ["part1_cpu_vs_gpu.png", "part2_batch_size_effects.png",
       "part3_model_complexity.png", "part4_num_workers_effect.png",
       "precision.png", "bandwidth.png"]


def load(name):
    return gbench.load_run(input_path(name))


def assert_png(path):
    with open(path, "rb") as handle:
        assert handle.read(8) == PNG_MAGIC
    assert os.path.getsize(path) > 5000


@pytest.fixture(scope="module")
def overlay(tmp_path_factory):
    """Plots of the GPU and CPU runs overlaid, drawn once for this module."""
    out = tmp_path_factory.mktemp("overlay")
    log = io.StringIO()
    written = plot.make_plots([load("trainbench_gpu.json"), load("trainbench_cpu.json")],
                              str(out), log=log)
    return out, written, log.getvalue()


def test_overlay_writes_every_figure_as_png(overlay):
    out, written, log = overlay
    assert [os.path.basename(p) for p in written] == ALL
    for name in ALL:
        assert_png(os.path.join(out, name))
    assert log == ""


def test_cpu_run_skips_precision_and_bandwidth_with_one_line_each(tmp_path):
    log = io.StringIO()
    written = plot.make_plots([load("trainbench_cpu.json")], str(tmp_path), log=log)
    assert sorted(os.listdir(tmp_path)) == sorted(ALL[:4])
    for path in written:
        assert_png(path)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("plot: skipping precision.png:")
    assert lines[1].startswith("plot: skipping bandwidth.png:")


def test_cli_unrelated_run_skips_everything(tmp_path, capsys):
    assert plot.main([input_path("gbench_repetitions.json"), "-o", str(tmp_path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 6 and all(line.startswith("plot: skipping ") for line in err)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["missing.json", "truncated.json", "not_gbench.json"])
def test_cli_bad_input_exit_2(name, tmp_path, capsys):
    assert plot.main([input_path(name), "-o", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("plot: ") and name in err
    assert not (tmp_path / "p").exists()


def test_label_selections_splits_common_and_per_run_settings():
    gpu = declarations.collect_benchmarks(load("trainbench_gpu.json"))
    cpu = declarations.collect_benchmarks(load("trainbench_cpu.json"))
    sels = [("H100", labparts.select_part(labparts.PART2, gpu)),
            ("cpu-box", labparts.select_part(labparts.PART2, cpu))]
    labelled, common = plot_draw.label_selections(sels)
    assert [label for label, _ in labelled] == ["H100 (device=cuda)", "cpu-box (device=cpu)"]
    assert common == "model=Medium workers=4 precision=fp32 pin=1"
    single, common1 = plot_draw.label_selections(sels[:1])
    assert single[0][0] == "H100" and "device=cuda" in common1
    _, part1_common = plot_draw.label_selections(
        [("H100", labparts.select_part(labparts.PART1, gpu))])
    assert part1_common.startswith("model=Medium batch=64")


def test_memory_series_says_which_memory_when_runs_mix():
    gpu = declarations.collect_benchmarks(load("trainbench_gpu.json"))
    cpu = declarations.collect_benchmarks(load("trainbench_cpu.json"))
    both = [("gpu", labparts.select_part(labparts.PART2, gpu)),
            ("cpu", labparts.select_part(labparts.PART2, cpu))]
    series, label, mixed = plot_draw.memory_series(both)
    assert mixed and "GPU allocated or host RSS" in label
    assert [name for name, _ in series] == ["gpu: GPU allocated", "cpu: host RSS"]
    series, label, mixed = plot_draw.memory_series(both[1:])
    assert not mixed and label == "Peak host RSS (MB)"
    assert series[0][1][0] == ("32", pytest.approx(940.0))


def test_unique_labels_disambiguates_same_host(tmp_path):
    a, b = load("gbench_repetitions.json"), load("gbench_units_a.json")
    assert plot_draw.unique_labels([a, b]) == ["bench-host (gbench_repetitions)",
                                          "bench-host (gbench_units_a)"]
    assert plot_draw.unique_labels([a, load("trainbench_cpu.json")]) == ["bench-host", "lab-cpu-01"]


def test_script_writes_pngs_and_lists_them(tmp_path):
    result = run_script("plot", input_path("trainbench_cpu.json"), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split()
    assert [os.path.basename(p) for p in listed] == ALL[:4]
    assert "Traceback" not in result.stderr


def test_bandwidth_lines_labels_and_styles():
    series = labparts.bandwidth_series(declarations.collect_benchmarks(load("trainbench_gpu.json")))
    single = plot.bandwidth_lines([("H100", series)])
    assert [name for name, *_ in single] == ["H2D pinned", "H2D pageable",
                                             "D2H pinned", "D2H pageable"]
    assert len({style for *_, style in single}) == 4
    assert single[0][1] == [65536 * 4 ** k for k in range(7)]
    double = plot.bandwidth_lines([("H100", series), ("A100", series)])
    assert len(double) == 8 and double[4][0] == "A100: H2D pinned"


# ---- what the figures show ------------------------------------------------------

EPOCH = ("BM_TrainEpoch/batch:{batch}/model:{model}/workers:{workers}/precision:{precision}"
         "/pin:1/device:cuda/iterations:2/manual_time")


def raw_rows(name):
    """name -> benchmark row, read straight from the JSON file (not through gbench)."""
    with open(input_path(name), encoding="utf-8") as handle:
        return {r["name"]: r for r in json.load(handle)["benchmarks"]}


def drawn(part, drawer, tmp_path, runs=("trainbench_gpu.json",)):
    selections = [(name, labparts.select_part(part, declarations.collect_benchmarks(load(name))))
                  for name in runs]
    labelled, subtitle = plot_draw.label_selections(selections)
    path = tmp_path / part.filename
    fig = drawer(labelled, str(path), subtitle)
    assert_png(path)
    return fig


def test_part2_figure_plots_batch_sizes_against_the_epoch_times(tmp_path):
    rows = raw_rows("trainbench_gpu.json")
    batches = [16, 64, 256, 1024]
    names = [EPOCH.format(batch=b, model="Medium", workers=4, precision="fp32")
             for b in batches]
    assert all(rows[n]["time_unit"] == "s" for n in names)
    fig = drawn(labparts.PART2, plot.figure_part2, tmp_path)
    ax_time, ax_mem, ax_acc = fig.axes
    [line] = ax_time.get_lines()
    assert list(line.get_xdata()) == batches
    assert list(line.get_ydata()) == pytest.approx([rows[n]["real_time"] for n in names])
    assert ax_time.get_xscale() == "log"
    [mem] = ax_mem.get_lines()
    assert list(mem.get_ydata()) == pytest.approx([rows[n]["peak_alloc_MB"] for n in names])
    [acc] = ax_acc.get_lines()
    assert list(acc.get_ydata()) == pytest.approx([100 * rows[n]["test_acc"] for n in names])


def test_part3_figure_bars_are_the_epoch_times_in_model_order(tmp_path):
    rows = raw_rows("trainbench_gpu.json")
    models = ["Small", "Medium", "Large"]
    names = [EPOCH.format(batch=256, model=m, workers=4, precision="fp32") for m in models]
    fig = drawn(labparts.PART3, plot.figure_part3, tmp_path)
    ax_time, _, ax_par = fig.axes
    assert [t.get_text() for t in ax_time.get_xticklabels()] == models
    assert [p.get_height() for p in ax_time.patches] == \
        pytest.approx([rows[n]["real_time"] for n in names])
    assert [p.get_height() for p in ax_par.patches] == \
        pytest.approx([rows[n]["params_M"] for n in names])


def test_precision_figure_bars_are_epoch_throughput(tmp_path):
    rows = raw_rows("trainbench_gpu.json")
    precisions = ["fp32", "tf32", "fp16", "bf16"]
    names = [EPOCH.format(batch=256, model="Large", workers=4, precision=p)
             for p in precisions]
    fig = drawn(labparts.PRECISION, plot.figure_precision, tmp_path)
    [ax] = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == precisions
    assert [p.get_height() for p in ax.patches] == \
        pytest.approx([rows[n]["samples_per_second"] for n in names])
    assert "BM_TrainEpoch" in fig.get_suptitle()


def test_overlaid_runs_are_one_line_each(tmp_path):
    fig = drawn(labparts.PART4, plot.figure_part4, tmp_path,
                runs=("trainbench_gpu.json", "trainbench_cpu.json"))
    lines = fig.axes[0].get_lines()
    assert [l.get_label() for l in lines] == [
        "trainbench_gpu.json (batch=256 device=cuda)",
        "trainbench_cpu.json (batch=64 device=cpu)"]
    assert [list(l.get_xdata()) for l in lines] == [[0, 2, 4, 8], [0, 2, 4, 8]]


def test_part4_draws_the_loader_floor_dashed_in_the_runs_colour(tmp_path):
    rows = raw_rows("trainbench_gpu.json")
    benches = declarations.collect_benchmarks(load("trainbench_gpu.json"))
    sel = labparts.select_part(labparts.PART4, benches)
    floor = plot.loader_floor(sel, benches)
    # batch 256, pin 1 (Part 4's settings); BM_DataLoader times are in ms.
    want = [rows[f"BM_DataLoader/batch:256/workers:{w}/pin:1/manual_time"]["real_time"] / 1e3
            for w in (0, 2, 4, 8)]
    assert [x for x, _ in floor] == ["0", "2", "4", "8"]
    assert [y for _, y in floor] == pytest.approx(want)
    labelled, subtitle = plot_draw.label_selections([("gpu", sel)])
    fig = plot.figure_part4(labelled, str(tmp_path / "p4.png"), subtitle,
                            loader_floors=[("gpu", floor)])
    epoch_line, floor_line = fig.axes[0].get_lines()
    assert floor_line.get_label() == "gpu: loader alone (BM_DataLoader)"
    assert floor_line.get_linestyle() == "--"
    assert floor_line.get_color() == epoch_line.get_color()
    assert list(floor_line.get_ydata()) == pytest.approx(want)
    assert fig.axes[0].get_ylim()[0] <= min(want)   # the floor is in view, not clipped


def test_make_plots_passes_each_runs_loader_floor_to_part4(tmp_path, monkeypatch):
    seen = {}
    real = plot.figure_part4

    def spy(selections, path, subtitle, loader_floors=None):
        seen["floors"] = loader_floors
        return real(selections, path, subtitle, loader_floors=loader_floors)

    monkeypatch.setattr(plot, "figure_part4", spy)
    plot.make_plots([load("trainbench_gpu.json"), load("trainbench_cpu.json")],
                    str(tmp_path), log=io.StringIO())
    (gpu_label, gpu_floor), (cpu_label, cpu_floor) = seen["floors"]
    assert gpu_label.startswith("NVIDIA H100") and len(gpu_floor) == 4
    assert cpu_floor == []   # the CPU input has no BM_DataLoader rows


def test_part4_worker_ticks_are_whole_numbers(tmp_path):
    # Workers 0/1/2/4, as the CPU suite runs them: the default locator puts ticks at 0.5 steps.
    doc = json.load(open(input_path("trainbench_cpu.json"), encoding="utf-8"))
    for row in doc["benchmarks"]:
        for key in ("name", "run_name"):
            if key in row:
                row[key] = row[key].replace("/workers:8/", "/workers:1/")
    path = tmp_path / "w0124.json"
    path.write_text(json.dumps(doc))
    sel = labparts.select_part(labparts.PART4,
                               declarations.collect_benchmarks(gbench.load_run(str(path))))
    assert sel.xs == ["0", "1", "2", "4"]
    labelled, subtitle = plot_draw.label_selections([("cpu", sel)])
    fig = plot.figure_part4(labelled, str(tmp_path / "p4.png"), subtitle)
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


# ---- runs of several ranks ---------------------------------------------------------

SCALING = ["scaling.png", "allreduce_busbw.png"]
RANKS_RUNS = ("trainbench_cpu.json", "trainbench_ranks2.json", "trainbench_ranks4.json")


def test_scaling_figures_only_when_a_run_has_several_ranks(tmp_path):
    # Plain runs: no scaling figure and no line about it (the overlay test's log is empty).
    for name in ("trainbench_gpu.json", "trainbench_cpu.json"):
        written = plot.make_plots([load(name)], str(tmp_path / name), log=io.StringIO())
        assert not set(SCALING) & {os.path.basename(p) for p in written}
    log = io.StringIO()
    written = plot.make_plots([load("trainbench_ranks2.json")], str(tmp_path / "r2"), log=log)
    assert [os.path.basename(p) for p in written][-2:] == SCALING
    for path in written[-2:]:
        assert_png(path)
    assert "scaling" not in log.getvalue() and "allreduce" not in log.getvalue()


def test_a_gpu_runs_ranks1_rows_make_no_scaling_figure(tmp_path):
    # A plain GPU run's NCCL smoke rows: one rank's all-reduce moves nothing (busbw 0) and one
    # world size is no scaling, so neither figure is drawn.
    x = "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0"
    path = write_doc(tmp_path / "gpu.json", [
        row(x + "/iterations:2/manual_time", 1.0, "s", samples_per_second=100000.0),
        row(x + "/ranks:1/iterations:2/manual_time", 1.25, "s", samples_per_second=80000.0),
        row("BM_AllReduce/bytes:268435456/ranks:1/manual_time", 100.0, "us",
            algbw_GB_per_s=2684.0, busbw_GB_per_s=0.0)])
    written = plot.make_plots([gbench.load_run(path)], str(tmp_path / "out"), log=io.StringIO())
    assert not set(SCALING) & {os.path.basename(p) for p in written}


def test_scaling_figure_draws_samples_and_efficiency_by_ranks_over_the_runs(tmp_path):
    benches = [declarations.collect_benchmarks(load(name)) for name in RANKS_RUNS]
    groups = labparts.scaling_groups(benches)
    assert [s["batch"] for s, _ in groups] == ["32", "64", "128", "256"]
    fig = plot.figure_scaling(groups, str(tmp_path / "s.png"))
    assert_png(tmp_path / "s.png")
    ax_sps, ax_eff = fig.axes
    raws = [raw_rows(name) for name in RANKS_RUNS]
    names = ["BM_TrainEpoch/batch:64/model:Medium/workers:4/precision:fp32/pin:1/device:cpu"
             "/iterations:1/manual_time"] + [
        f"BM_TrainEpoch/batch:64/model:Medium/workers:4/precision:fp32/pin:1/device:cpu"
        f"/graph:0/ranks:{n}/iterations:1/manual_time" for n in (2, 4)]
    lines = {l.get_label(): l for l in ax_sps.get_lines()}
    batch64 = lines["batch=64"]
    assert list(batch64.get_xdata()) == [1, 2, 4]   # the plain run is ranks 1
    assert list(batch64.get_ydata()) == pytest.approx(
        [raw[n]["samples_per_second"] for raw, n in zip(raws, names)])
    ideal = [l for l in ax_sps.get_lines() if l.get_linestyle() == "--"
             and l.get_color() == batch64.get_color()]
    assert len(ideal) == 1
    assert list(ideal[0].get_ydata()) == pytest.approx(
        [n * raws[0][names[0]]["samples_per_second"] for n in (1, 2, 4)])
    eff = {l.get_label(): l for l in ax_eff.get_lines() if l.get_label() == "batch=64"}
    assert list(eff["batch=64"].get_xdata()) == [2, 4]
    assert list(eff["batch=64"].get_ydata()) == pytest.approx(
        [raw[n]["scaling_efficiency"] for raw, n in zip(raws[1:], names[1:])])
    assert ax_sps.get_xscale() == "log" and ax_eff.get_xscale() == "log"
    assert "model=Medium" in fig.get_suptitle() and "batch=" not in fig.get_suptitle()


def test_scaling_figure_keeps_the_configurations_with_most_world_sizes(tmp_path):
    benches = [declarations.collect_benchmarks(load(name)) for name in RANKS_RUNS[1:]]
    groups = labparts.scaling_groups(benches)
    many = [({**s, "model": f"M{i}"}, pts) for i in range(3) for s, pts in groups]
    many[5] = (many[5][0], many[5][1][:1])    # one configuration measured at one size only
    log = io.StringIO()
    fig = plot.figure_scaling(many, str(tmp_path / "s.png"), log=log)
    labels = [l.get_label() for l in fig.axes[0].get_lines() if l.get_linestyle() == "-"]
    assert len(labels) == plot.MAX_SCALING_LINES
    assert "batch=64 model=M1" not in labels          # many[5]: the fewest points
    assert "batch=32 model=M2" in labels and labels[0] == "batch=32 model=M0"
    assert log.getvalue() == ("plot: scaling.png: drawing 10 of 12 configurations "
                              "(those with most world sizes)\n")


def test_allreduce_figure_is_busbw_against_bytes_per_world_size(tmp_path):
    series = [(name, labparts.allreduce_series(declarations.collect_benchmarks(load(name))))
              for name in RANKS_RUNS[1:]]
    fig = plot.figure_allreduce(series, str(tmp_path / "a.png"))
    assert_png(tmp_path / "a.png")
    [ax] = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.xaxis.get_major_formatter()(1048576) == "1 MiB"
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert list(lines) == ["2 ranks", "4 ranks"]
    for ranks, name in ((2, RANKS_RUNS[1]), (4, RANKS_RUNS[2])):
        raw = raw_rows(name)
        sizes = [4096 * 4 ** k for k in range(9)]
        assert list(lines[f"{ranks} ranks"].get_xdata()) == sizes
        assert list(lines[f"{ranks} ranks"].get_ydata()) == pytest.approx(
            [raw[f"BM_AllReduce/bytes:{s}/ranks:{ranks}/manual_time"]["busbw_GB_per_s"]
             for s in sizes])
    # Two runs of the same world size: the run names the line.
    same = plot.allreduce_lines([("a", series[0][1]), ("b", series[0][1])])
    assert [name for name, *_ in same] == ["a: 2 ranks", "b: 2 ranks"]
