"""Tests for tools/lab_outputs.py: CSV, plots and report next to the JSON."""

import os
import shutil

import pytest

import lab_outputs
from conftest import input_path, run_script


def test_output_paths():
    paths = lab_outputs.output_paths("results/run-1.json")
    assert paths == {"csv": os.path.join("results", "run-1.csv"),
                     "plots": os.path.join("results", "run-1-plots"),
                     "report": os.path.join("results", "run-1.md")}


def test_writes_everything_next_to_the_json(tmp_path, capsys):
    src = tmp_path / "trainbench_cpu.json"
    shutil.copy(input_path("trainbench_cpu.json"), src)
    assert lab_outputs.main([str(src)]) == 0
    captured = capsys.readouterr()
    csv_path = tmp_path / "trainbench_cpu.csv"
    plots = tmp_path / "trainbench_cpu-plots"
    md = tmp_path / "trainbench_cpu.md"
    assert csv_path.read_text(encoding="utf-8").startswith("name,family,batch,model")
    pngs = sorted(os.listdir(plots))
    assert pngs == ["part1_cpu_vs_gpu.png", "part2_batch_size_effects.png",
                    "part3_model_complexity.png", "part4_num_workers_effect.png"]
    for name in pngs:
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = md.read_text(encoding="utf-8")
    assert "![Part 1: CPU vs GPU](trainbench_cpu-plots/part1_cpu_vs_gpu.png)" in text
    assert "precision.png" not in text and "bandwidth.png" not in text
    for path in (csv_path, plots, md):
        assert str(path) in captured.out
    assert "skipping precision.png" in captured.err


@pytest.mark.parametrize("name", ["missing.json", "truncated.json", "not_gbench.json",
                                  "gbench_repetitions.json"])   # not trainbench's
def test_bad_input_exit_2_and_writes_nothing(name, tmp_path, capsys):
    src = tmp_path / name
    if os.path.exists(input_path(name)):
        shutil.copy(input_path(name), src)
    before = set(os.listdir(tmp_path))
    assert lab_outputs.main([str(src)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lab_outputs: ") and name in err
    assert len(err.strip().splitlines()) == 1
    assert set(os.listdir(tmp_path)) == before


def test_script_bad_input_no_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"context": {}, "benchmarks": [')
    result = run_script("lab_outputs", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bad.json" in result.stderr
