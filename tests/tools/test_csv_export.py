"""Tests for tools/csv_export.py: row selection, columns, quoting, CLI."""

import csv
import io
import json

import pytest

import csv_export
import gbench
from conftest import input_path, row, run_script, write_doc


def load(name):
    return gbench.load_run(input_path(name))


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_select_rows_iterations_aggregates_and_fallback():
    rows = load("gbench_repetitions.json").rows
    iterations = csv_export.select_rows(rows)
    assert len(iterations) == 9 and all(r["run_type"] == "iteration" for r in iterations)
    aggregates = csv_export.select_rows(rows, aggregates=True)
    assert len(aggregates) == 12 and all(r["run_type"] == "aggregate" for r in aggregates)
    agg_only = load("gbench_aggregates_only.json").rows
    # no iteration rows at all: the aggregates are kept rather than dropped
    assert csv_export.select_rows(agg_only) == agg_only


def test_axis_columns_first_seen_order_and_settings_excluded():
    assert csv_export.axis_columns(load("trainbench_gpu.json").rows) == [
        "batch", "model", "workers", "precision", "pin", "device", "bytes", "pinned"]
    assert csv_export.axis_columns(load("gbench_repetitions.json").rows) == ["arg0"]


def test_counter_columns_are_the_union_over_the_file():
    rows = [row("BM_a", 1.0, first=1.0), row("BM_b", 2.0, second=2.0),
            row("BM_c", 3.0, first=3.0, third=3.0)]
    assert csv_export.counter_columns(rows) == ["first", "second", "third"]
    gpu = csv_export.counter_columns(load("trainbench_gpu.json").rows)
    assert "peak_alloc_MB" in gpu and "GB_per_s" in gpu and "tflops" in gpu


def test_column_names_layout_and_clashes():
    assert csv_export.column_names(["batch"], ["samples_per_second"]) == [
        "name", "family", "batch", "run_type", "aggregate_name", "repetition_index",
        "iterations", "real_time", "cpu_time", "time_unit", "real_time_s", "cpu_time_s",
        "samples_per_second", "error_message"]
    header = csv_export.column_names(["name", "size"], ["size"])
    assert "axis_name" in header and "size" in header and "counter_size" in header
    assert len(header) == len(set(header))


def test_build_table_values():
    header, table = csv_export.build_table(load("trainbench_cpu.json"))
    first = dict(zip(header, table[0]))
    assert first["family"] == "BM_TrainEpoch"
    assert first["batch"] == "64" and first["workers"] == "0" and first["device"] == "cpu"
    assert first["real_time"] == pytest.approx(80.0) and first["time_unit"] == "s"
    assert first["samples_per_second"] == pytest.approx(625.0)
    assert "peak_alloc_MB" not in header          # CPU run has no GPU counters
    assert "iterations" in header and "manual_time" not in header


def test_errored_row_has_message_and_empty_counters_and_times():
    header, table = csv_export.build_table(load("gbench_errored.json"))
    rows = [dict(zip(header, r)) for r in table]
    errored = [r for r in rows if r["name"] == "BM_memcpy/64"][0]
    assert errored["error_message"] == "buffer allocation failed"
    assert errored["bytes_per_second"] == ""
    # Google Benchmark writes iterations 0 and times 0.0 for it: not measurements
    for column in ("iterations", "real_time", "cpu_time", "real_time_s", "cpu_time_s"):
        assert errored[column] == ""
    assert errored["time_unit"] == "ns"
    ok = [r for r in rows if r["name"] == "BM_memcpy/8"][0]
    assert ok["iterations"] == 1000 and ok["real_time"] == pytest.approx(4.1)


def test_seconds_columns_convert_every_unit():
    header, table = csv_export.build_table(load("trainbench_gpu.json"))
    rows = {r["name"]: r for r in (dict(zip(header, cells)) for cells in table)}
    epoch = rows["BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1"
                 "/device:cuda/iterations:2/manual_time"]
    step = rows["BM_TrainStep/batch:256/model:Medium/precision:fp32/device:cuda/manual_time"]
    copy = rows["BM_HostToDevice/bytes:268435456/pinned:1/manual_time"]
    assert (epoch["time_unit"], step["time_unit"], copy["time_unit"]) == ("s", "ms", "us")
    assert epoch["real_time_s"] == pytest.approx(1.46)
    assert step["real_time"] == pytest.approx(1.05)
    assert step["real_time_s"] == pytest.approx(1.05e-3)
    assert copy["real_time_s"] == pytest.approx(copy["real_time"] * 1e-6)
    assert copy["cpu_time_s"] == pytest.approx(copy["cpu_time"] * 1e-6)
    assert copy["real_time_s"] == pytest.approx(268435456 / (copy["GB_per_s"] * 1e9))
    assert header.index("real_time_s") == header.index("time_unit") + 1
    assert header.index("cpu_time_s") == header.index("real_time_s") + 1


def test_seconds_columns_blank_for_non_time_aggregates():
    header, table = csv_export.build_table(load("gbench_aggregates_only.json"), True)
    rows = [dict(zip(header, cells)) for cells in table]
    mean = [r for r in rows if r["aggregate_name"] == "mean"][0]
    cv = [r for r in rows if r["aggregate_name"] == "cv"][0]
    assert mean["time_unit"] == "us"
    assert mean["real_time_s"] == pytest.approx(mean["real_time"] * 1e-6)
    assert cv["real_time"] != "" and cv["real_time_s"] == "" and cv["cpu_time_s"] == ""


def test_cli_file_output_roundtrip_with_quoting(tmp_path):
    src = write_doc(tmp_path / "q.json", [
        row('BM_q/label:a,b', 1.0, note_per_second=2.0),
        row("BM_err", 0.0, error_occurred=True,
            error_message='failed: "quoted", comma and µs')])
    out = tmp_path / "q.csv"
    assert csv_export.main([src, "-o", str(out)]) == 0
    raw = out.read_bytes()
    assert raw.decode("utf-8")                        # valid UTF-8
    rows = read_csv(raw.decode("utf-8"))
    assert rows[0]["name"] == "BM_q/label:a,b" and rows[0]["label"] == "a,b"
    assert rows[1]["error_message"] == 'failed: "quoted", comma and µs'
    assert rows[0]["note_per_second"] == "2.0"


def test_cli_stdout_and_aggregates_flag(capsys):
    assert csv_export.main([input_path("gbench_repetitions.json"), "--aggregates"]) == 0
    rows = read_csv(capsys.readouterr().out)
    assert {r["aggregate_name"] for r in rows} == {"mean", "median", "stddev", "cv"}
    assert rows[0]["name"] == "BM_memcpy/8_mean" and rows[0]["arg0"] == "8"
    assert "checks" in rows[0]                        # counter only BM_spin has


@pytest.mark.parametrize("name,message", [
    ("missing.json", "no such file"), ("truncated.json", "malformed"),
    ("not_gbench.json", "benchmarks")])
def test_cli_bad_input_exit_2(name, message, capsys):
    assert csv_export.main([input_path(name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("csv_export: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_script_runs_and_reports_bad_input_without_traceback(tmp_path):
    good = run_script("csv_export", input_path("gbench_units_a.json"))
    assert good.returncode == 0
    assert good.stdout.splitlines()[0].startswith("name,family,run_type")
    bad = run_script("csv_export", input_path("rows_without_real_time.json"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_real_output_complexity_rows_only_with_aggregates():
    rows = load("gbench_real_v171.json").rows
    names = [r["name"] for r in csv_export.select_rows(rows)]
    assert "BM_memcpy_BigO" not in names and names.count("BM_err") == 3
    agg_names = [r["name"] for r in csv_export.select_rows(rows, aggregates=True)]
    assert "BM_memcpy_BigO" in agg_names and "BM_memcpy_RMS" in agg_names
    assert "BM_err" in agg_names                # errored: no aggregates, rows kept
    header, _ = csv_export.build_table(load("gbench_real_v171.json"))
    assert header[2:4] == ["arg0", "batch"]
    assert "late_counter" in header             # only the last BM_Train instance has it


# ---- runs of several ranks ---------------------------------------------------------

SCALING_COUNTERS = ["scaling_efficiency", "comm_exposed_pct", "rank_max_s", "rank_min_s",
                    "nosync_samples_per_second"]


def test_a_ranks_run_has_a_ranks_column_and_the_scaling_counters():
    run = load("trainbench_ranks2.json")
    header, table = csv_export.build_table(run)
    assert csv_export.axis_columns(run.rows) == [
        "batch", "model", "workers", "precision", "pin", "device", "graph", "ranks", "bytes"]
    for column in SCALING_COUNTERS + ["algbw_GB_per_s", "busbw_GB_per_s"]:
        assert column in header
    rows = read_csv(_csv_text(header, table))
    raw = {r["name"]: r for r in run.rows}
    epoch = next(r for r in rows if r["family"] == "BM_TrainEpoch" and r["batch"] == "64")
    assert epoch["ranks"] == "2" and epoch["graph"] == "0"
    for column in SCALING_COUNTERS:
        assert float(epoch[column]) == pytest.approx(raw[epoch["name"]][column])
    reduce = next(r for r in rows if r["name"].startswith("BM_AllReduce/bytes:4096/"))
    assert reduce["ranks"] == "2" and reduce["bytes"] == "4096"
    assert reduce["batch"] == "" and reduce["graph"] == ""       # not axes of BM_AllReduce
    assert reduce[SCALING_COUNTERS[0]] == ""
    assert float(reduce["busbw_GB_per_s"]) == pytest.approx(raw[reduce["name"]]["busbw_GB_per_s"])


def _csv_text(header, table):
    out = io.StringIO()
    csv_export.write_csv(header, table, out)
    return out.getvalue()


def test_an_epoch_without_a_ranks_axis_reads_ranks_1_in_the_ranks_column(tmp_path):
    plain = ("BM_TrainEpoch/batch:64/model:Medium/workers:4/precision:fp32/pin:1/device:cpu"
             "/iterations:1/manual_time")
    two = ("BM_TrainEpoch/batch:64/model:Medium/workers:4/precision:fp32/pin:1/device:cpu"
           "/graph:0/ranks:2/iterations:1/manual_time")
    loader = "BM_DataLoader/batch:64/workers:4/pin:1/manual_time"
    path = write_doc(tmp_path / "mixed.json", [row(plain, 40.0, unit="s"),
                                               row(two, 22.0, unit="s", scaling_efficiency=0.9),
                                               row(loader, 3.0, unit="ms")])
    rows = read_csv(_csv_text(*csv_export.build_table(gbench.load_run(path))))
    assert [(r["ranks"], r["graph"]) for r in rows] == [("1", "0"), ("2", "0"), ("", "")]
    assert [r["scaling_efficiency"] for r in rows] == ["", "0.9", ""]
    # A plain run alone gets no ranks or graph column: nothing in it names them.
    assert "ranks" not in csv_export.build_table(load("trainbench_cpu.json"))[0]


def test_an_axis_the_run_declares_fills_its_column(tmp_path):
    # The run's "axes" context (a JSON string) says a BM_TrainEpoch name without "stream"
    # means stream:0, and that graph is always spelled out (absent null).
    axes = {"axes": json.dumps({"axes": [
        {"name": "graph", "families": ["BM_TrainEpoch"], "absent": None, "help": ""},
        {"name": "stream", "families": ["BM_TrainEpoch"], "absent": "0", "help": ""}]})}
    names = ["BM_TrainEpoch/batch:64/graph:1/stream:1/manual_time",
             "BM_TrainEpoch/batch:64/manual_time"]
    rows = [row(n, 1.0, "s") for n in names]
    declared = read_csv(run_script("csv_export", write_doc(tmp_path / "a.json", rows, axes)).stdout)
    assert [(r["stream"], r["graph"]) for r in declared] == [("1", "1"), ("0", "")]
    plain = read_csv(run_script("csv_export", write_doc(tmp_path / "b.json", rows)).stdout)
    assert [(r["stream"], r["graph"]) for r in plain] == [("1", "1"), ("", "0")]   # fallback
