"""Tests for tools/report.py: lab-shaped tables, context, plot links, CLI."""

import json
import os

import pytest

import gbench
import labparts
import report
from conftest import input_path, row, run_script, write_doc


def load(name):
    return gbench.load_run(input_path(name))


@pytest.fixture(scope="module")
def gpu_md():
    return report.build_report(load("trainbench_gpu.json"))


@pytest.fixture(scope="module")
def cpu_md():
    return report.build_report(load("trainbench_cpu.json"))


def test_md_table_and_escaping():
    assert report.md_table(["A", "B"], [("1", "x|y")]) == \
        "| A | B |\n| --- | --- |\n| 1 | x\\|y |"


@pytest.mark.parametrize("value,spec,text", [
    (1.23456, ".3f", "1.235"), (None, ".3f", "-"), (float("nan"), ".1f", "-")])
def test_fmt(value, spec, text):
    assert report.fmt(value, spec) == text


def test_fmt_pct():
    assert report.fmt_pct(0.9123) == "91.23%"
    assert report.fmt_pct(None) == "-"


def test_part1_table(gpu_md):
    assert "| Device | Epoch Time (s) | Samples/s |" in gpu_md
    assert "| cpu | 41.600 | 1442.3 |" in gpu_md
    assert "| cuda | 6.240 | 9615.4 |" in gpu_md


def test_part2_table_gpu_and_cpu_memory(gpu_md, cpu_md):
    header = "| Batch Size | Epoch Time (s) | Peak Memory (MB) | Test Accuracy |"
    assert header in gpu_md and header in cpu_md
    assert "| 16 | 9.820 | 23.2 | 90.50% |" in gpu_md
    assert "| 1024 | 1.130 | 577.6 | 84.20% |" in gpu_md
    assert "`peak_alloc_MB`" in gpu_md
    assert "| 32 | 50.982 | 940.0 | 70.50% |" in cpu_md
    assert "`host_peak_rss_MB`" in cpu_md


def test_part3_memory_header_depends_on_device(gpu_md, cpu_md):
    assert "| Model Complexity | Training Time (s) | Peak GPU Memory (MB) | Parameters (M) |" \
        in gpu_md
    assert "| Model Complexity | Training Time (s) | Peak Host RSS (MB) | Parameters (M) |" \
        in cpu_md
    part3 = next(sec for sec in gpu_md.split("\n## ") if sec.startswith("Part 3"))
    lines = [line for line in part3.splitlines() if line.startswith("| Small")
             or line.startswith("| Medium") or line.startswith("| Large")]
    assert [line.split(" | ")[0] for line in lines] == ["| Small", "| Medium", "| Large"]


def test_part4_data_wait_column_only_when_measured(tmp_path, gpu_md):
    assert "| num_workers | Epoch Time (s) | Samples/s | Data Wait (%) |" in gpu_md
    doc = json.load(open(input_path("trainbench_cpu.json")))
    for row in doc["benchmarks"]:
        row.pop("data_wait_pct", None)
    path = tmp_path / "nowait.json"
    path.write_text(json.dumps(doc))
    md = report.build_report(gbench.load_run(str(path)))
    assert "| num_workers | Epoch Time (s) | Samples/s |\n" in md


def loader_row(batch, workers, pin, sps, error=None):
    """A BM_DataLoader row as trainbench writes it (one iteration = one epoch)."""
    row = {"name": f"BM_DataLoader/batch:{batch}/workers:{workers}/pin:{pin}/manual_time",
           "run_name": f"BM_DataLoader/batch:{batch}/workers:{workers}/pin:{pin}/manual_time",
           "run_type": "iteration", "repetitions": 1, "repetition_index": 0, "threads": 1,
           "iterations": 10, "real_time": 60000 / sps * 1e3, "cpu_time": 1.0,
           "time_unit": "ms", "samples_per_second": sps}
    if error:
        row.update({"error_occurred": True, "error_message": error})
    return row


def test_part4_loader_alone_column_matches_batch_workers_and_pin(tmp_path):
    doc = json.load(open(input_path("trainbench_cpu.json")))
    # Part 4 here is batch 64, pin 1. Rows with another batch or pin must not be picked.
    doc["benchmarks"] += [loader_row(64, 0, 1, 900000.0), loader_row(64, 2, 1, 1500000.0),
                          loader_row(64, 4, 0, 1.0), loader_row(256, 4, 1, 2.0),
                          loader_row(64, 8, 1, 7.0, error="pinned memory: out of memory")]
    path = tmp_path / "loader.json"
    path.write_text(json.dumps(doc))
    md = report.build_report(gbench.load_run(str(path)))
    assert ("| num_workers | Epoch Time (s) | Samples/s | Data Wait (%) | "
            "Loader Alone (samples/s) |") in md
    assert "| 0 | 80.000 | 625.0 | 40.0 | 900000.0 |" in md
    assert "| 2 | 52.000 | 961.5 | 13.3 | 1500000.0 |" in md
    assert "| 4 | 40.000 | 1250.0 | 8.0 | - |" in md   # only other batch/pin rows
    assert "| 8 | 38.000 | 1315.8 | 4.4 | - |" in md   # errored row is not a point
    assert "`BM_DataLoader` with the same batch, workers and pin" in md


def test_precision_and_bandwidth_tables_only_when_present(gpu_md, cpu_md):
    assert "## Training precision" in gpu_md
    assert "| Precision | Epoch Time (s) | Samples/s | Speed-up vs fp32 |" in gpu_md
    assert "| tf32 | 2.91 | 20618.6 | 1.59x |" in gpu_md
    assert "| fp16 | 2.18 | 27522.9 | 2.12x |" in gpu_md
    assert "## Host-device bandwidth" in gpu_md
    assert "| H2D | pinned | 268,435,456 | 256 MiB | 53.55 |" in gpu_md
    assert "| D2H | pageable | 65,536 | 64 KiB | 1.10 |" in gpu_md
    assert "## Training precision" not in cpu_md
    assert "## Host-device bandwidth" not in cpu_md


def test_settings_line_and_repetitions(gpu_md, cpu_md):
    assert ("_Measured with BM_TrainEpoch, model=Medium, workers=4, precision=fp32, pin=1, "
            "device=cuda._") in gpu_md
    assert "repetitions" not in cpu_md and "repetitions" not in gpu_md
    real = report.build_report(load("trainbench_real_cpu.json"))
    assert ("_Measured with BM_TrainEpoch, model=Medium, workers=0, precision=fp32, pin=0, "
            "device=cpu; mean of 2 repetitions._") in real


def test_context_and_errored_sections(gpu_md, cpu_md, tmp_path):
    for md, line in ((gpu_md, "| CUDA driver | 12.8 |"), (gpu_md, "| cuDNN | 9.1.0 |"),
                     (gpu_md, "| Data directory | /usr/share/datasets/fashion-mnist |"),
                     (cpu_md, "| Host | lab-cpu-01 |"), (cpu_md, "| CPU model | AMD EPYC 7B13 |")):
        assert line in md
    assert "CUDA driver" not in cpu_md
    assert "## Errored benchmarks" not in gpu_md and "## Errored benchmarks" not in cpu_md
    # the same run with the batch-1024 epoch out of GPU memory
    doc = json.load(open(input_path("trainbench_gpu.json")))
    oom = ("BM_TrainEpoch/batch:1024/model:Medium/workers:4/precision:fp32/pin:1/device:cuda"
           "/iterations:2/manual_time")
    for row in doc["benchmarks"]:
        if row["name"] == oom:
            for key in list(row):
                if key not in ("name", "family_index", "per_family_instance_index",
                               "run_name", "run_type", "repetitions", "repetition_index",
                               "threads", "time_unit"):
                    del row[key]
            row.update(error_occurred=True, iterations=0, real_time=0.0, cpu_time=0.0,
                       error_message="CUDA out of memory. Tried to allocate 2.00 GiB")
    path = tmp_path / "oom.json"
    path.write_text(json.dumps(doc))
    md = report.build_report(gbench.load_run(str(path)))
    assert "## Errored benchmarks" in md and "CUDA out of memory" in md
    assert f"| {oom} | CUDA out of memory" in md
    assert "| 1024 |" not in md.split("## Part 2")[1].split("## Part 3")[0]


def test_unrelated_run_says_not_measured():
    md = report.build_report(load("gbench_repetitions.json"))
    assert md.count("_Not measured in this run._") == 4


def test_links_only_to_existing_plots_relative_to_report(tmp_path):
    plots = tmp_path / "figs"
    plots.mkdir()
    for name in (labparts.PART2.filename, labparts.BANDWIDTH_FILENAME):
        (plots / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    out_dir = tmp_path / "docs"
    out_dir.mkdir()
    md = report.build_report(load("trainbench_gpu.json"), str(plots), str(out_dir))
    links = [line for line in md.splitlines() if line.startswith("![")]
    assert links == ["![Part 2: Batch size effects](../figs/part2_batch_size_effects.png)",
                     "![Host-device bandwidth](../figs/bandwidth.png)"]


def test_cli_writes_file(tmp_path):
    out = tmp_path / "r.md"
    assert report.main([input_path("trainbench_cpu.json"), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("# trainbench lab report: lab-cpu-01")


@pytest.mark.parametrize("name", ["missing.json", "truncated.json", "rows_without_real_time.json"])
def test_cli_bad_input_exit_2(name, capsys, tmp_path):
    assert report.main([input_path(name), "-o", str(tmp_path / "r.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("report: ") and name in err
    assert not os.path.exists(tmp_path / "r.md")


def test_cli_non_trainbench_run_exit_2(tmp_path, capsys):
    # Was: exit 0 and a report whose every part said "Not measured in this run".
    path = input_path("gbench_repetitions.json")
    assert report.main([path, "-o", str(tmp_path / "r.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"report: {path}: not a trainbench run: none of its benchmarks is "
                          "of a family the lab report shows (BM_AllReduce, ") and err.count("\n") == 1
    assert not (tmp_path / "r.md").exists()


def test_cli_trainbench_run_of_errored_benchmarks_is_reported(tmp_path, capsys):
    errored = row("BM_TrainEpoch/batch:64/model:Large/device:cuda/manual_time", 0.0,
                  error_occurred=True, error_message="CUDA out of memory")
    assert report.main([write_doc(tmp_path / "r.json", [errored]), "-o",
                        str(tmp_path / "r.md")]) == 0
    assert "| CUDA out of memory |" in (tmp_path / "r.md").read_text(encoding="utf-8")


def test_script_stdout():
    result = run_script("report", input_path("trainbench_cpu.json"))
    assert result.returncode == 0
    assert "## Part 4: DataLoader workers" in result.stdout


def test_real_trainbench_cpu_run():
    md = report.build_report(load("trainbench_real_cpu.json"))
    assert md.startswith("# trainbench lab report: vm\n")     # device_name is "cpu only"
    assert "| Model Complexity | Training Time (s) | Peak Host RSS (MB) | Parameters (M) |" in md
    part2 = md.split("## Part 2")[1].split("## Part 3")[0]
    assert [line.split(" | ")[0] for line in part2.splitlines()
            if line.startswith("| 3") or line.startswith("| 6")] == ["| 32", "| 64"]
    assert "| CPU model | Intel(R) Xeon(R) Processor |" in md


def test_small_models_section_shows_graphs_launch_share_and_crossover(tmp_path):
    step = "BM_TrainStep/batch:{}/model:Small/precision:fp32/device:{}/graph:{}/manual_time"
    old = "BM_TrainStep/batch:{}/model:Small/precision:fp32/device:{}/manual_time"
    rows = [
        # batch 16: CPU 20k/s beats eager CUDA 10k/s (launch-bound: 0.2 of 1.6 ms computing),
        # the graph 40k/s beats the CPU.
        row(step.format(16, "cpu", 0), 0.8, "ms", samples_per_second=20000.0, step_ms=0.8),
        row(step.format(16, "cuda", 0), 1.6, "ms", samples_per_second=10000.0, step_ms=1.6,
            kernel_ms_per_step=0.2),
        row(step.format(16, "cuda", 1), 0.4, "ms", samples_per_second=40000.0, step_ms=0.4),
        # batch 256, named as before the graph axis: eager CUDA wins here.
        row(old.format(256, "cpu"), 12.8, "ms", samples_per_second=20000.0, step_ms=12.8),
        row(old.format(256, "cuda"), 1.28, "ms", samples_per_second=200000.0, step_ms=1.28,
            kernel_ms_per_step=1.0),
    ]
    md = report.build_report(gbench.load_run(write_doc(tmp_path / "r.json", rows)))
    assert f"## {report.SMALL_MODELS_TITLE}" in md
    assert "| Small | 16 | 20000 | 10000 | 40000 | 0.200 | 1.600 | 87.5% |" in md
    assert "| Small | 256 | 20000 | 200000 | - | 1.000 | 1.280 | 21.9% |" in md
    assert "- Small, eager: the GPU overtakes the CPU at batch 256." in md
    assert "- Small, with CUDA graphs: the GPU overtakes the CPU at batch 16." in md


def test_small_models_section_needs_both_devices(cpu_md):
    # The CPU-only reference run has BM_TrainStep on cpu only: nothing to compare.
    assert report.SMALL_MODELS_TITLE not in cpu_md


# ---- runs of several ranks ---------------------------------------------------------

def raw_rows(name):
    with open(input_path(name), encoding="utf-8") as handle:
        return {r["name"]: r for r in json.load(handle)["benchmarks"]}


def section(md, title):
    return md.split(f"\n## {title}\n")[1].split("\n## ")[0]


def test_scaling_section_only_for_a_run_of_several_ranks(gpu_md, cpu_md):
    for md in (gpu_md, cpu_md, report.build_report(load("gbench_repetitions.json"))):
        assert f"## {report.SCALING_TITLE}" not in md and "BM_AllReduce" not in md
    md = report.build_report(load("trainbench_ranks2.json"))
    assert md.count(f"\n## {report.SCALING_TITLE}\n") == 1
    # After the lab's tables, before the context.
    assert md.index("## Part 4") < md.index(f"## {report.SCALING_TITLE}") \
        < md.index("## Device context")


def test_scaling_table_shows_the_spread_of_comm_exposed_when_the_run_has_it(tmp_path):
    with open(input_path("trainbench_ranks2.json"), encoding="utf-8") as handle:
        doc = json.load(handle)
    epochs = [b for b in doc["benchmarks"] if b["name"].startswith("BM_TrainEpoch/")]
    for i, b in enumerate(epochs):
        b["comm_exposed_sd_pct"] = 3.25 + i
    path = write_doc(tmp_path / "sd.json", doc["benchmarks"], doc["context"])
    text = section(report.build_report(gbench.load_run(path)), report.SCALING_TITLE)
    assert "| Comm exposed (%) | Comm exposed SD (points) | Slowest rank (s) |" in text
    for i, b in enumerate(epochs):
        assert f"| {b['comm_exposed_pct']:.1f} | {3.25 + i:.1f} | {b['rank_max_s']:.3f} |" in text

def test_scaling_training_table_numbers_come_from_the_file():
    md = report.build_report(load("trainbench_ranks2.json"))
    text = section(md, report.SCALING_TITLE)
    assert ("| batch | Ranks | Samples/s (all ranks) | No-sync samples/s | Scaling efficiency "
            "| Comm exposed (%) | Slowest rank (s) | Fastest rank (s) |") in text
    raw = raw_rows("trainbench_ranks2.json")
    for batch in (32, 64, 128, 256):
        r = raw[f"BM_TrainEpoch/batch:{batch}/model:Medium/workers:4/precision:fp32/pin:1"
                "/device:cpu/graph:0/ranks:2/iterations:1/manual_time"]
        line = (f"| {batch} | 2 | {r['samples_per_second']:.1f} | "
                f"{r['nosync_samples_per_second']:.1f} | {r['scaling_efficiency']:.3f} | "
                f"{r['comm_exposed_pct']:.1f} | {r['rank_max_s']:.3f} | {r['rank_min_s']:.3f} |")
        assert line in text
    assert ("_Measured with BM_TrainEpoch, model=Medium, workers=4, precision=fp32, pin=1, "
            "device=cpu, graph=0; batch is per rank._") in text


def test_scaling_all_reduce_table_numbers_come_from_the_file():
    text = section(report.build_report(load("trainbench_ranks4.json")), report.SCALING_TITLE)
    assert "| Bytes | Size | algbw GB/s (4 ranks) | busbw GB/s (4 ranks) |" in text
    raw = raw_rows("trainbench_ranks4.json")
    sizes = [4096 * 4 ** k for k in range(9)]
    lines = [l for l in text.split("### All-reduce")[1].splitlines() if l.startswith("| ")]
    assert [l.split(" | ")[0] for l in lines[2:]] == [f"| {s:,}" for s in sizes]
    for size in sizes:
        r = raw[f"BM_AllReduce/bytes:{size}/ranks:4/manual_time"]
        assert (f"| {size:,} | {gbench.format_bytes(size)} | {r['algbw_GB_per_s']:.3f} | "
                f"{r['busbw_GB_per_s']:.3f} |") in text
        assert r["busbw_GB_per_s"] == pytest.approx(r["algbw_GB_per_s"] * 1.5, abs=1e-4)


def test_scaling_section_with_only_all_reduce_rows_and_a_ranks_1_epoch(tmp_path):
    # An all-reduce alone: the section has its table only. An epoch without a ranks axis
    # is ranks 1: alone it is no scaling, beside a ranks:2 one of the same settings it is
    # that configuration's first row.
    epoch = ("BM_TrainEpoch/batch:64/model:Small/workers:0/precision:fp32/pin:0/device:cpu"
             "{}/iterations:1/manual_time")
    only = write_doc(tmp_path / "a.json", [
        row("BM_AllReduce/bytes:4096/ranks:2/manual_time", 50.0, "us",
            algbw_GB_per_s=0.08, busbw_GB_per_s=0.08),
        row(epoch.format(""), 10.0, "s", samples_per_second=100.0)])
    text = section(report.build_report(gbench.load_run(only)), report.SCALING_TITLE)
    assert "### All-reduce bandwidth (BM_AllReduce)" in text and "### Training" not in text
    both = write_doc(tmp_path / "b.json", [
        row(epoch.format(""), 10.0, "s", samples_per_second=100.0),
        row(epoch.format("/graph:0/ranks:2"), 6.0, "s", samples_per_second=170.0,
            scaling_efficiency=0.85)])
    text = section(report.build_report(gbench.load_run(both)), report.SCALING_TITLE)
    assert "| 1 | 100.0 | - | - | - | - | - |" in text
    assert "| 2 | 170.0 | - | 0.850 | - | - | - |" in text
    assert "### All-reduce" not in text


def test_scaling_links_its_plots_and_the_context_shows_the_world(tmp_path):
    plots = tmp_path / "figs"
    plots.mkdir()
    for name in (labparts.SCALING_FILENAME, labparts.ALLREDUCE_FILENAME):
        (plots / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    md = report.build_report(load("trainbench_ranks2.json"), str(plots), str(tmp_path))
    text = section(md, report.SCALING_TITLE)
    assert "![Training by ranks (BM_TrainEpoch)](figs/scaling.png)" in text
    assert "![All-reduce bandwidth (BM_AllReduce)](figs/allreduce_busbw.png)" in text
    for line in ("| World size (ranks) | 2 |", "| Nodes | 1 |", "| GPUs per node | 0 |",
                 "| Launcher | torchrun |", "| Distributed backend | gloo |",
                 "| Distributed backend version | 0.5.0 |", "| Distributed timeout (s) | 120 |"):
        assert line in section(md, "Device context")


def test_small_models_follow_the_model_order_the_run_declares(tmp_path):
    step = "BM_TrainStep/batch:16/model:{}/precision:fp32/device:{}/graph:0/manual_time"
    rows = [row(step.format(m, d), 1.0, "ms", samples_per_second=1000.0, step_ms=1.0)
            for m in ("Small", "Large") for d in ("cpu", "cuda")]

    def models_in_table(context):
        md = report.build_report(gbench.load_run(write_doc(tmp_path / "r.json", rows, context)))
        section = md.split(f"## {report.SMALL_MODELS_TITLE}")[1]
        return [line.split("|")[1].strip() for line in section.splitlines()
                if line.startswith("| ") and line.split("|")[2].strip().isdigit()]

    assert models_in_table({}) == ["Small", "Large"]
    declared = {"lab_parts": json.dumps({"parts": [
        {"key": "part3", "vary": "model", "families": ["BM_TrainEpoch"], "centre": {},
         "sweeps": [{"axis": "model", "values": ["Large", "Medium", "Small"]}]}]})}
    assert models_in_table(declared) == ["Large", "Small"]


def test_a_perturbed_benchmark_is_named_in_a_warning_before_the_tables(tmp_path):
    doc = json.loads(open(input_path("trainbench_cpu.json"), encoding="utf-8").read())
    first = next(b for b in doc["benchmarks"] if b["name"].startswith("BM_TrainEpoch"))
    first.update(perturbed=1, paused_s=6.04)
    path = write_doc(tmp_path / "paused.json", doc["benchmarks"], doc["context"])
    md = report.build_report(gbench.load_run(path))
    warning = md.index("> **Perturbed:**")
    assert warning < md.index("## ")
    assert f"> - `{first['name'].rsplit('/iterations:', 1)[0]}`" in md or f"`{first['name']}`" in md
    assert "paused 1 time(s) for 6.0 s" in md
    assert "Perturbed" not in report.build_report(load("trainbench_cpu.json"))


def test_a_time_shows_its_noise_and_a_row_above_the_limit_is_marked(tmp_path):
    rows = [row("BM_a", 2.0, unit="s", noise_pct=1.25, noise_samples=5),
            row("BM_b", 2.0, unit="s", noise_pct=4.0, noise_samples=3, noise_met=0),
            row("BM_c", 2.0, unit="s")]
    benches = gbench.collect_benchmarks(gbench.load_run(write_doc(tmp_path / "n.json", rows)))
    assert report.fmt_time(benches["BM_a"]) == "2.000 ±1.2%"
    assert report.fmt_time(benches["BM_b"]) == "2.000 ±4.0% (noisy)"
    assert report.fmt_time(benches["BM_c"]) == "2.000"
