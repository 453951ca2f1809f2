"""Tests for tools/gbench.py: loading, validation, name parsing, units, counters (generic
Google Benchmark; trainbench's meanings are tested in test_declarations.py)."""

import json
import math

import pytest

import cli
import gbench
from conftest import input_path, row, write_doc

EPOCH = ("BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/"
         "device:cuda/iterations:2/manual_time")


# ---- parse_name -----------------------------------------------------------

def test_parse_name_trainbench_epoch_axes_settings_and_flags():
    parsed = gbench.parse_name(EPOCH)
    assert parsed.family == "BM_TrainEpoch"
    assert list(parsed.axes.items()) == [
        ("batch", "256"), ("model", "Medium"), ("workers", "4"),
        ("precision", "fp32"), ("pin", "1"), ("device", "cuda")]
    assert parsed.settings == {"iterations": "2"}
    assert parsed.flags == ["manual_time"]


def test_parse_name_copy_benchmark():
    parsed = gbench.parse_name("BM_DeviceToHost/bytes:1048576/pinned:0/manual_time")
    assert parsed.family == "BM_DeviceToHost"
    assert parsed.axes == {"bytes": "1048576", "pinned": "0"}


def test_parse_name_generic_positional_threads_and_repeats():
    parsed = gbench.parse_name("BM_spin/64/8/repeats:3/real_time/threads:2")
    assert parsed.family == "BM_spin"
    assert parsed.axes == {"arg0": "64", "arg1": "8"}
    assert parsed.settings == {"repeats": "3", "threads": "2"}
    assert parsed.flags == ["real_time"]


def test_parse_name_fixture_family_and_plain_name():
    assert gbench.parse_name("MyFixture/BM_Foo/8").family == "MyFixture/BM_Foo"
    assert gbench.parse_name("MyFixture/BM_Foo/8").axes == {"arg0": "8"}
    plain = gbench.parse_name("BM_new_only")
    assert (plain.family, plain.axes, plain.settings, plain.flags) == ("BM_new_only", {}, {}, [])


# ---- units -----------------------------------------------------------------

@pytest.mark.parametrize("value,unit,seconds", [
    (250.0, "ns", 250e-9), (40.0, "us", 40e-6), (3.0, "ms", 3e-3), (2.5, "s", 2.5)])
def test_to_seconds(value, unit, seconds):
    assert gbench.to_seconds(value, unit) == pytest.approx(seconds)


def test_to_seconds_rejects_unknown_unit():
    with pytest.raises(ValueError, match="xs"):
        gbench.to_seconds(1.0, "xs")


@pytest.mark.parametrize("seconds,text", [
    (12.34, "12.3 s"), (0.0123, "12.3 ms"), (4.1e-9, "4.1 ns"), (2e-6, "2 us"),
    (None, "n/a"), (float("nan"), "n/a")])
def test_format_seconds(seconds, text):
    assert gbench.format_seconds(seconds) == text


# ---- counters ----------------------------------------------------------------

def test_counters_of_keeps_only_numeric_user_keys():
    data = row("BM_x", 5.0, error_occurred=False, label="lbl", bytes_per_second=3.5,
               checks=7, note="text")
    assert gbench.counters_of(data) == {"bytes_per_second": 3.5, "checks": 7}


def test_base_name_prefers_run_name_and_strips_aggregate_suffix():
    assert gbench.base_name({"name": "BM_a/8_mean", "run_name": "BM_a/8",
                             "aggregate_name": "mean"}) == "BM_a/8"
    assert gbench.base_name({"name": "BM_a/8_median", "aggregate_name": "median"}) == "BM_a/8"
    assert gbench.base_name({"name": "BM_a/8"}) == "BM_a/8"


def test_mean_and_geomean_ignore_non_finite():
    assert gbench.mean([1.0, 3.0, float("nan")]) == 2.0
    assert gbench.mean([]) is None
    assert gbench.geomean([1.0, 4.0, None, float("inf"), -2.0]) == pytest.approx(2.0)
    assert gbench.geomean([None]) is None


def test_run_label_order():
    assert gbench.run_label({"device_name": "H100", "host_name": "h"}, "/x/a.json") == "H100"
    assert gbench.run_label({"host_name": "h"}, "/x/a.json") == "h"
    assert gbench.run_label({}, "/x/a.json") == "a"
    # trainbench writes device_name "cpu only" without a GPU: use the host
    assert gbench.run_label({"device_name": "cpu only", "host_name": "h"}, "a.json") == "h"
    assert gbench.run_label({"device_name": "cpu only"}, "/x/a.json") == "a"


# ---- load_run / validation ----------------------------------------------------

def test_load_run_reads_context_and_rows():
    run = gbench.load_run(input_path("trainbench_gpu.json"))
    assert run.context["device_name"] == "NVIDIA H100 80GB HBM3"
    assert run.label == "NVIDIA H100 80GB HBM3"
    assert run.stem == "trainbench_gpu"
    assert len(run.rows) > 20


@pytest.mark.parametrize("name,problem", [
    ("does_not_exist.json", "no such file"),
    ("truncated.json", "malformed or truncated JSON"),
    ("not_gbench.json", 'no "benchmarks" list'),
    ("rows_without_real_time.json", '"real_time"'),
])
def test_load_run_bad_inputs(name, problem):
    with pytest.raises(gbench.InputError) as info:
        gbench.load_run(input_path(name))
    assert problem in info.value.problem
    assert info.value.path.endswith(name)


def test_load_run_empty_directory_binary_and_list(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    top_list = tmp_path / "list.json"
    top_list.write_text("[1, 2]")
    no_name = tmp_path / "noname.json"
    no_name.write_text(json.dumps({"benchmarks": [{"real_time": 1.0}]}))
    cases = {empty: "empty file", tmp_path: "directory", binary: "UTF-8",
             top_list: "not a JSON object", no_name: '"name"'}
    for path, problem in cases.items():
        with pytest.raises(gbench.InputError, match=problem):
            gbench.load_run(str(path))


def test_validate_accepts_complexity_rows_and_rejects_bad_unit():
    ok = {"benchmarks": [row("BM_a/8", 1.0),
                         {"name": "BM_a_BigO", "run_name": "BM_a", "run_type": "aggregate",
                          "aggregate_name": "BigO", "cpu_coefficient": 1.0,
                          "real_coefficient": 1.0, "big_o": "N", "time_unit": "ns"}]}
    assert gbench.validate_document(ok) is None
    bad = {"benchmarks": [row("BM_a", 1.0, unit="fortnights")]}
    assert "fortnights" in gbench.validate_document(bad)


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None, ["x"]])
def test_validate_reads_error_occurred_strictly(value):
    # Was: "false" (a string) counted as an error, as did any truthy value.
    problem = gbench.validate_document({"benchmarks": [row("BM_a", 1.0, error_occurred=value)]})
    assert problem == (f"benchmark #1 (BM_a) has error_occurred {json.dumps(value)}: "
                       "must be true or false")


def test_error_occurred_false_is_not_an_error(tmp_path):
    run = gbench.load_run(write_doc(tmp_path / "r.json", [row("BM_a", 1.0, error_occurred=False)]))
    bench = gbench.collect_benchmarks(run)["BM_a"]
    assert bench.error is None and bench.times_s == [1e-9]


@pytest.mark.parametrize("text,problem", [
    ('{"benchmarks": [], "context": {"a": "\\ud800"}}',
     'context "a": a string with a lone surrogate \\ud800 (not Unicode text)'),
    ('{"benchmarks": [], "context": {"caches": [{"size": 1' + "0" * 400 + '}]}}',
     'context "caches"[0] "size": an integer of 401 digits, beyond the range of a double'),
    ('{"benchmarks": [], "x": ' + "1" * 5000 + "}",
     "an integer of more than 4300 digits, beyond the range of a double"),
    ('{"benchmarks": [], "x": ' + "[" * 101 + "]" * 101 + "}",
     '"x"' + "[0]" * 99 + ": JSON nested too deeply (more than 100 levels)"),
    ('{"benchmarks": [], "\\udc00": 1}', '"\\udc00": a key with a lone surrogate \\udc00'),
])
def test_load_run_refuses_json_no_tool_can_use(tmp_path, text, problem):
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(gbench.InputError) as err:
        gbench.load_run(str(path))
    assert err.value.problem.startswith(problem), err.value.problem


def test_load_run_accepts_the_deepest_nesting_allowed(tmp_path):
    depth = 99    # the top-level object and 99 lists: 100 levels
    path = tmp_path / "r.json"
    path.write_text('{"benchmarks": [], "x": ' + "[" * depth + "]" * depth + "}")
    assert gbench.load_run(str(path)).rows == []


# ---- collect_benchmarks ------------------------------------------------------

def test_collect_uses_iteration_rows_as_samples():
    benches = gbench.collect_benchmarks(gbench.load_run(input_path("gbench_repetitions.json")))
    assert list(benches) == ["BM_memcpy/8", "BM_memcpy/64",
                             "BM_spin/iterations:1000/real_time/threads:2"]
    b = benches["BM_memcpy/64"]
    assert b.source == "iterations"
    assert b.times_s == pytest.approx([9.0e-9, 9.2e-9, 8.9e-9])
    assert len(b.counters["bytes_per_second"]) == 3
    assert b.family == "BM_memcpy" and b.axes == {"arg0": "64"}


def test_collect_aggregates_only_uses_mean_as_single_sample():
    benches = gbench.collect_benchmarks(
        gbench.load_run(input_path("gbench_aggregates_only.json")))
    b = benches["BM_memcpy/64"]
    assert b.source == "mean"
    assert b.times_s == pytest.approx([(9.0e-9 + 9.2e-9 + 8.9e-9) / 3])
    assert len(b.counters["items_per_second"]) == 1


def test_collect_falls_back_to_median(tmp_path):
    rows = [dict(row("BM_a", 7.0, unit="ms"), name="BM_a_median", run_type="aggregate",
                 aggregate_name="median", aggregate_unit="time"),
            dict(row("BM_a", 0.5, unit="ms"), name="BM_a_stddev", run_type="aggregate",
                 aggregate_name="stddev", aggregate_unit="time")]
    run = gbench.load_run(write_doc(tmp_path / "m.json", rows))
    b = gbench.collect_benchmarks(run)["BM_a"]
    assert b.source == "median"
    assert b.time_s == pytest.approx(7e-3)


def test_collect_marks_errored_benchmark_without_samples():
    benches = gbench.collect_benchmarks(gbench.load_run(input_path("gbench_errored.json")))
    assert benches["BM_memcpy/64"].error == "buffer allocation failed"
    assert benches["BM_memcpy/64"].times_s == []
    assert benches["BM_memcpy/8"].error is None


def test_collect_converts_every_unit_to_seconds():
    a = gbench.collect_benchmarks(gbench.load_run(input_path("gbench_units_a.json")))
    b = gbench.collect_benchmarks(gbench.load_run(input_path("gbench_units_b.json")))
    expected = {"BM_ns": 250e-9, "BM_us": 40e-6, "BM_ms": 3e-3, "BM_s": 2.5}
    for name, seconds in expected.items():
        assert a[name].time_s == pytest.approx(seconds)
        assert b[name].time_s == pytest.approx(seconds)
        assert not math.isclose(a[name].time_s, 0.0)


def test_collect_real_output_skips_complexity_rows_and_keeps_errors():
    benches = gbench.collect_benchmarks(gbench.load_run(input_path("gbench_real_v171.json")))
    assert "BM_memcpy" not in benches            # only BM_memcpy_BigO / _RMS rows
    assert benches["BM_err"].error == "no device, found 0 GPUs"
    train = benches["BM_Train/batch:3/iterations:2/manual_time"]
    assert train.axes == {"batch": "3"} and train.source == "iterations"
    assert train.times_s == pytest.approx([3e-3] * 3)
    assert train.counter("late_counter") == 1.0
    assert benches["BM_thr/min_time:0.010/threads:2"].axes == {}


@pytest.mark.parametrize("name,key", [
    ("BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:1"
     "/ranks:4/iterations:2/manual_time",
     "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:1"
     "/ranks:4/manual_time"),
    ("BM_x/8/repeats:3/min_time:0.500/min_warmup_time:1.000/threads:4/real_time",
     "BM_x/8/threads:4/real_time"),
    ("BM_thr/min_time:0.010/threads:2", "BM_thr/threads:2"),
    ("BM_memcpy/64", "BM_memcpy/64"),
    ("Fixture/BM_y/iterations:10", "Fixture/BM_y"),
    ("iterations:2", "iterations:2"),                     # never drops the first segment
    ("BM_z/iterations:many", "BM_z/iterations:many"),      # not a count: an axis
])
def test_match_key_drops_only_run_settings(name, key):
    assert gbench.match_key(name) == key


def test_without_an_added_axes_table_nothing_is_filled_in():
    # Which axes a name may lack is the program's business (declarations.py for trainbench).
    old = "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda/manual_time"
    assert gbench.match_key(old) == old and gbench.filled_axes(old) == 0
    assert gbench.match_key(old, added_axes={"BM_TrainStep": {"graph": "0"}}) == (
        "BM_TrainStep/batch:16/model:Small/precision:fp32/device:cuda/graph:0/manual_time")
    bench = gbench.Benchmark(name=old, family="BM_TrainStep", axes=gbench.parse_name(old).axes)
    assert bench.axis("graph") is None


@pytest.mark.parametrize("name,direction", [
    ("items_per_second", "higher"), ("frames_per_s", "higher"), ("checks", "neutral"),
    ("samples_per_second", "higher"), ("train_loss", "neutral")])
def test_convention_direction_knows_only_rates(name, direction):
    assert gbench.convention_direction(name) == direction


def test_run_settings():
    assert gbench.run_settings("BM_a/batch:2/repeats:3/iterations:2/threads:2/manual_time") \
        == {"repeats": "3", "iterations": "2"}
    assert gbench.run_settings("BM_a/batch:2") == {}


def test_malformed_json_message_says_at_once(tmp_path):
    # json's "Unterminated string starting at" used to read "... starting at at line 1 ...".
    path = tmp_path / "cut.json"
    path.write_text('{"benchmarks": [{"name": "BM_x')
    with pytest.raises(gbench.InputError) as info:
        gbench.load_run(str(path))
    assert info.value.problem == ("malformed or truncated JSON: Unterminated string "
                                  "starting at line 1 column 26")


@pytest.mark.parametrize("value,text", [(512, "512 B"), (4096, "4 KiB"),
                                        (1048576, "1 MiB"), (3 << 30, "3 GiB")])
def test_format_bytes(value, text):
    assert gbench.format_bytes(value) == text
    assert gbench.format_bytes(67108864) == "64 MiB"   # the report's bandwidth table
    assert gbench.format_bytes(100) == "100 B"


def test_write_output_to_file_stdout_and_an_unwritable_path(tmp_path, capsys):
    path = tmp_path / "out.txt"
    assert cli.write_output("tool", str(path), lambda h: h.write("a\n")) == 0
    assert path.read_text() == "a\n"
    assert cli.write_output("tool", "", lambda h: h.write("b\n")) == 0
    assert capsys.readouterr().out == "b\n"
    bad = tmp_path / "no" / "such" / "dir.txt"
    assert cli.write_output("tool", str(bad), lambda h: h.write("c")) == 2
    assert capsys.readouterr().err == f"tool: {bad}: cannot write: No such file or directory\n"
