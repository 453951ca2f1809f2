"""Tests for which benchmarks compare.py pairs (comparison.match_keys): names that differ only
in run settings such as iterations:N, --across AXIS (a world of one against one of several
ranks), and the axes a run declares (an older file's names lacking one)."""

import json

import pytest

import compare
import comparison
import gbench
from comparing import CPU, by_name, report_for
from conftest import input_path, row, write_doc


# ---- matching across run settings (--epochs changes iterations:N) ---------------

EPOCH = ("BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda"
         "/iterations:{}/manual_time")


def test_runs_with_different_iterations_match_and_show_a_note(tmp_path, capsys):
    base = write_doc(tmp_path / "a.json", [row(EPOCH.format(2), 1.5, "s",
                                               samples_per_second=40000.0)])
    new = write_doc(tmp_path / "b.json", [row(EPOCH.format(3), 1.2, "s",
                                              samples_per_second=50000.0)])
    report = report_for(base, new)
    assert report["only_in_baseline"] == [] and report["only_in_run"] == []
    [matched] = report["benchmarks"]
    assert matched["name"] == EPOCH.format(2)           # the baseline's name
    assert matched["run_name"] == EPOCH.format(3)
    assert matched["settings_note"] == "iterations 2->3"
    assert matched["time_ratio"] == pytest.approx(0.8)
    assert compare.main([base, new, "--threshold", "5"]) == 0
    out = capsys.readouterr().out
    line = [l for l in out.splitlines() if l.startswith("BM_TrainEpoch/")][0]
    assert line.startswith(EPOCH.format(2)) and line.endswith("iterations 2->3")
    assert EPOCH.format(3) not in out


def test_settings_note_lists_every_changed_setting():
    assert comparison.settings_note("BM_a/repeats:3/iterations:2/min_time:0.5",
                                    "BM_a/iterations:4/min_time:0.5") == \
        "repeats 3->-, iterations 2->4"
    assert comparison.settings_note("BM_a/iterations:2", "BM_a/iterations:2") == ""


def test_names_colliding_on_a_key_are_matched_by_full_name(tmp_path):
    base = write_doc(tmp_path / "a.json", [row("BM_a/iterations:2", 10.0),
                                           row("BM_a/iterations:3", 20.0),
                                           row("BM_b/iterations:2", 5.0)])
    new = write_doc(tmp_path / "b.json", [row("BM_a/iterations:2", 11.0),
                                          row("BM_a/iterations:5", 30.0),
                                          row("BM_b/iterations:7", 5.0)])
    report = report_for(base, new)
    rows = by_name(report)
    assert set(rows) == {"BM_a/iterations:2", "BM_b/iterations:2"}
    assert rows["BM_a/iterations:2"]["time_ratio"] == pytest.approx(1.1)
    assert rows["BM_a/iterations:2"]["settings_note"] == ""
    assert rows["BM_b/iterations:2"]["settings_note"] == "iterations 2->7"
    assert report["only_in_baseline"] == ["BM_a/iterations:3"]
    assert report["only_in_run"] == ["BM_a/iterations:5"]
    # a collision in one file only still keeps that key exact on both sides
    single = write_doc(tmp_path / "c.json", [row("BM_a/iterations:3", 21.0)])
    report = report_for(base, single)
    assert [r["name"] for r in report["benchmarks"]] == ["BM_a/iterations:3"]
    assert report["only_in_baseline"] == ["BM_a/iterations:2", "BM_b/iterations:2"]


def test_match_keys():
    old, new = comparison.match_keys(["BM_x/iterations:2/manual_time", "BM_y/threads:2"],
                                     ["BM_x/iterations:9/manual_time", "BM_y/threads:4"])
    assert old == {"BM_x/iterations:2/manual_time": "BM_x/manual_time",
                   "BM_y/threads:2": "BM_y/threads:2"}
    assert new["BM_x/iterations:9/manual_time"] == "BM_x/manual_time"
    assert new["BM_y/threads:4"] == "BM_y/threads:4"    # threads: never the same benchmark


# ---- --across: a world of one against a world of several ranks -------------------------

RANKS2 = input_path("trainbench_ranks2.json")
RANKS4 = input_path("trainbench_ranks4.json")
PART2_ONE = ("BM_TrainEpoch/batch:{}/model:Medium/workers:4/precision:fp32/pin:1/device:cpu"
             "/iterations:1/manual_time")


def raw_rows(path):
    with open(path, encoding="utf-8") as handle:
        return {r["name"]: r for r in json.load(handle)["benchmarks"]}


def test_across_ranks_pairs_a_plain_run_with_a_run_of_two_ranks():
    # trainbench_cpu.json has no ranks axis (nor graph): its epochs are ranks:1.
    report = comparison.get_difference_report(gbench.load_run(CPU), gbench.load_run(RANKS2),
                                              across="ranks")
    rows = by_name(report)
    batches = (32, 64, 128, 256)
    assert set(rows) == {PART2_ONE.format(b) for b in batches}
    one, two = raw_rows(CPU), raw_rows(RANKS2)
    for batch in batches:
        pair = rows[PART2_ONE.format(batch)]
        name2 = (f"BM_TrainEpoch/batch:{batch}/model:Medium/workers:4/precision:fp32/pin:1"
                 "/device:cpu/graph:0/ranks:2/iterations:1/manual_time")
        assert pair["run_name"] == name2
        assert pair["across"] == {"axis": "ranks", "base": "1", "new": "2"}
        sps = {c["name"]: c for c in pair["counters"]}["samples_per_second"]
        want = two[name2]["samples_per_second"] / one[PART2_ONE.format(batch)]["samples_per_second"]
        assert sps["ratio"] == pytest.approx(want) and sps["ratio"] > 1.5
        assert pair["time_ratio"] == pytest.approx(
            two[name2]["real_time"] / one[PART2_ONE.format(batch)]["real_time"])
        # The scaling counters exist on the ranks:2 side only: nothing to pair them with.
        assert "scaling_efficiency" not in {c["name"] for c in pair["counters"]}
    # Epochs with other settings (pin:0, other models) are the baseline's own; the
    # all-reduce exists only with several ranks.
    assert PART2_ONE.replace("pin:1", "pin:0").format(64) in report["only_in_baseline"]
    assert len(report["only_in_run"]) == 9
    assert all(n.startswith("BM_AllReduce/") for n in report["only_in_run"])


def test_without_across_a_plain_run_and_a_ranks_run_share_nothing(capsys):
    report = report_for(CPU, RANKS2)
    assert report["in_common"] == 0 and "across" not in report
    assert compare.main([CPU, RANKS2]) == 2
    err = capsys.readouterr().err
    assert err == (f"compare: {RANKS2}: no benchmark in common with baseline {CPU}\n")


def test_across_ranks_pairs_two_worlds_epochs_and_all_reduces(capsys, tmp_path):
    out_json = tmp_path / "c.json"
    assert compare.main([RANKS2, RANKS4, "--across=ranks", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "Paired across ranks" in out
    line = next(l for l in out.splitlines() if l.startswith("BM_AllReduce/bytes:268435456/"))
    assert line.split()[0] == "BM_AllReduce/bytes:268435456/ranks:2/manual_time"
    assert line.endswith("ranks 2->4")
    doc = json.loads(out_json.read_text())
    assert doc["across"] == "ranks"
    rows = {r["name"]: r for r in doc["comparisons"][0]["benchmarks"]}
    assert len(rows) == 4 + 9
    two, four = raw_rows(RANKS2), raw_rows(RANKS4)
    big = rows["BM_AllReduce/bytes:268435456/ranks:2/manual_time"]
    busbw = {c["name"]: c for c in big["counters"]}["busbw_GB_per_s"]
    assert busbw["direction"] == "higher"
    assert busbw["ratio"] == pytest.approx(
        four["BM_AllReduce/bytes:268435456/ranks:4/manual_time"]["busbw_GB_per_s"]
        / two["BM_AllReduce/bytes:268435456/ranks:2/manual_time"]["busbw_GB_per_s"])
    epoch = next(r for n, r in rows.items() if n.startswith("BM_TrainEpoch/batch:64/"))
    efficiency = {c["name"]: c for c in epoch["counters"]}["scaling_efficiency"]
    assert (efficiency["base"], efficiency["new"]) == (0.9, 0.8)
    assert efficiency["direction"] == "higher"
    assert {c["name"]: c["direction"] for c in epoch["counters"]}["comm_exposed_pct"] == "lower"


def test_across_an_axis_no_benchmark_has_is_one_line_and_exit_2(capsys):
    assert compare.main([CPU, RANKS2, "--across", "rank"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"compare: --across 'rank': no benchmark in {CPU}, {RANKS2} "
                               "has a 'rank' axis (the axes there: batch, bytes,")
    # A run setting is not an axis: matching already leaves iterations out.
    assert compare.main([CPU, RANKS2, "--across", "iterations"]) == 2
    assert "has a 'iterations' axis" in capsys.readouterr().err


def test_across_a_names_only_axis_works_on_any_benchmark(tmp_path, capsys):
    # --across is not only for ranks: two files that differ in one axis of their names.
    base = write_doc(tmp_path / "a.json", [row("BM_x/size:8/kind:a", 10.0),
                                           row("BM_x/size:64/kind:a", 20.0)])
    new = write_doc(tmp_path / "b.json", [row("BM_x/size:8/kind:b", 5.0),
                                          row("BM_x/size:64/kind:b", 30.0)])
    report = comparison.get_difference_report(gbench.load_run(base), gbench.load_run(new),
                                              across="kind")
    assert {r["name"]: r["time_ratio"] for r in report["benchmarks"]} == {
        "BM_x/size:8/kind:a": pytest.approx(0.5), "BM_x/size:64/kind:a": pytest.approx(1.5)}
    # A file with several values of the axis for the same other settings: those names are
    # matched by their full names, as names that collide on a key always are.
    both = write_doc(tmp_path / "c.json", [row("BM_x/size:8/kind:a", 10.0),
                                           row("BM_x/size:8/kind:b", 12.0)])
    report = comparison.get_difference_report(gbench.load_run(both), gbench.load_run(new),
                                              across="kind")
    assert [r["name"] for r in report["benchmarks"]] == ["BM_x/size:8/kind:b"]
    assert report["benchmarks"][0]["time_ratio"] == pytest.approx(5.0 / 12.0)


def test_a_gpu_runs_ranks1_row_is_its_ranks1_and_the_plain_row_keeps_its_name(tmp_path):
    # A plain run on a GPU has the first CUDA epoch twice: plain, and data-parallel over one
    # GPU (".../ranks:1"). Both read as ranks:1, so the one that spells it out is ranks:1.
    x = "BM_TrainEpoch/batch:256/model:Medium/workers:4/precision:fp32/pin:1/device:cuda/graph:0"
    one = write_doc(tmp_path / "one.json", [
        row(x + "/iterations:2/manual_time", 1.0, "s", samples_per_second=100000.0),
        row(x + "/ranks:1/iterations:2/manual_time", 1.25, "s", samples_per_second=80000.0)])
    eight = write_doc(tmp_path / "eight.json", [
        row(x + "/ranks:8/iterations:2/manual_time", 0.25, "s", samples_per_second=320000.0)])
    rows = by_name(comparison.get_difference_report(gbench.load_run(one), gbench.load_run(eight),
                                                    across="ranks"))
    assert set(rows) == {x + "/ranks:1/iterations:2/manual_time"}
    pair = rows[x + "/ranks:1/iterations:2/manual_time"]
    assert pair["run_name"] == x + "/ranks:8/iterations:2/manual_time"
    assert {c["name"]: c for c in pair["counters"]}["samples_per_second"]["ratio"] == pytest.approx(4.0)
    # Two such GPU runs: each row pairs with its own kind.
    again = write_doc(tmp_path / "again.json", [
        row(x + "/iterations:2/manual_time", 0.5, "s", samples_per_second=200000.0),
        row(x + "/ranks:1/iterations:2/manual_time", 2.5, "s", samples_per_second=40000.0)])
    rows = by_name(report_for(one, again))
    assert {n: r["run_name"] for n, r in rows.items()} == {
        x + "/iterations:2/manual_time": x + "/iterations:2/manual_time",
        x + "/ranks:1/iterations:2/manual_time": x + "/ranks:1/iterations:2/manual_time"}
    assert rows[x + "/iterations:2/manual_time"]["time_ratio"] == pytest.approx(0.5)


# ---- axes the runs declare (context "axes") ----------------------------------------------

def axes_context(*entries):
    """A context whose "axes" (a JSON string) declares (name, families, absent) axes."""
    return {"axes": json.dumps({"axes": [
        {"name": n, "families": list(f), "absent": a, "help": ""} for n, f, a in entries]})}


STREAM_AXES = axes_context(("graph", ["BM_TrainEpoch"], "0"), ("stream", ["BM_TrainEpoch"], "0"),
                           ("ranks", ["BM_TrainEpoch"], "1"))
STREAM_EPOCH = ("BM_TrainEpoch/batch:64/model:Small/workers:0/precision:fp32/pin:0/device:cpu"
                "{}/iterations:1/manual_time")


def test_an_axis_the_run_declares_matches_an_older_file_s_names_without_it(tmp_path):
    # The older file was written before "stream" existed: its names mean stream:0, as the
    # newer run declares. Without the declaration, the two would have nothing in common.
    old = write_doc(tmp_path / "old.json", [row(STREAM_EPOCH.format(""), 2.0, "s")])
    new = write_doc(tmp_path / "new.json", [
        row(STREAM_EPOCH.format("/graph:0/stream:0"), 1.0, "s"),
        row(STREAM_EPOCH.format("/graph:0/stream:1"), 0.5, "s")], STREAM_AXES)
    report = report_for(old, new)
    assert [(r["name"], r["run_name"]) for r in report["benchmarks"]] == [
        (STREAM_EPOCH.format(""), STREAM_EPOCH.format("/graph:0/stream:0"))]
    assert report["only_in_run"] == [STREAM_EPOCH.format("/graph:0/stream:1")]
    undeclared = write_doc(tmp_path / "undeclared.json", json.load(open(new))["benchmarks"])
    assert report_for(old, undeclared)["in_common"] == 0
    # --across takes the declared axis though the older file's names lack it.
    one = write_doc(tmp_path / "one.json", [row(STREAM_EPOCH.format("/graph:0/stream:1"),
                                                0.5, "s")], STREAM_AXES)
    report = comparison.get_difference_report(gbench.load_run(old), gbench.load_run(one),
                                              across="stream")
    assert report["benchmarks"][0]["across"] == {"axis": "stream", "base": "0", "new": "1"}
    assert report["benchmarks"][0]["time_ratio"] == pytest.approx(0.25)
    assert comparison.across_problem("stream", [gbench.load_run(old), gbench.load_run(one)]) is None
    assert comparison.across_problem("stream", [gbench.load_run(old)]) is not None
