"""Tests for tools/labparts.py: choosing the points of each lab part."""

import pytest

import gbench
import labparts
from conftest import input_path


def benches_of(name):
    return gbench.collect_benchmarks(gbench.load_run(input_path(name)))


def fake(name, time_s=1.0, error=None, **counters):
    """A Benchmark built from a name, one sample."""
    parsed = gbench.parse_name(name)
    bench = gbench.Benchmark(name=name, family=parsed.family, axes=parsed.axes,
                             error=error)
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


def test_part2_picks_the_set_covering_most_batches_sorted_numerically():
    sel = labparts.select_part(labparts.PART2, benches_of("trainbench_cpu.json"))
    assert sel.xs == ["32", "64", "128", "256"]
    assert sel.settings == {"model": "Medium", "workers": "4", "precision": "fp32",
                            "pin": "1", "device": "cpu"}


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


def test_part2_from_the_real_gpu_sweep():
    sel = labparts.select_part(labparts.PART2, benches_of("trainbench_gpu.json"))
    assert sel.xs == ["16", "64", "256", "1024"]
    assert sel.settings == {"model": "Medium", "workers": "4", "precision": "fp32",
                            "pin": "1", "device": "cuda"}


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
    for part in labparts.PARTS:
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
