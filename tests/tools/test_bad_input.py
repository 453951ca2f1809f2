"""Every tool's exit statuses for what goes wrong (issue 16, points 7 and 10): bad input is one
line "<prog>: <path>: <problem>" on stderr and exit status 2; a failure of the tool's own (a
bug) is one line and exit status 3, never 1 (compare's "regression found") and never a
traceback.  Both come from one place, cli.tool_main."""

import ast
import glob
import os
import subprocess
import sys

import pytest

import cli
import compare
import comparison
import csv_export
import lab_outputs
import plot
import report
from conftest import TOOLS, input_path, row, run_script, write_doc

EPOCH = "BM_TrainEpoch/batch:64/model:Medium/workers:4/device:cpu/manual_time"
TOOL_MODULES = {"compare": compare, "csv_export": csv_export, "report": report, "plot": plot,
                "lab_outputs": lab_outputs}


def nested(path, depth=100_000):
    """A file whose one benchmark is a list nested ``depth`` deep (json: RecursionError)."""
    path.write_text('{"context": {}, "benchmarks": [' + "[" * depth + "]" * depth + "]}")
    return str(path)


# name: (writes the bad file at a path, what the one line says of it)
BAD_INPUTS = {
    "time_unit list": (lambda p: write_doc(p, [row(EPOCH, 1.0, ["ms"])]),
                       f'benchmark #1 ({EPOCH}) has unknown time_unit ["ms"] '
                       '(expected "ns", "us", "ms" or "s")'),
    "time_unit dict": (lambda p: write_doc(p, [row(EPOCH, 1.0, {"unit": "ms"})]),
                       'has unknown time_unit {"unit": "ms"}'),
    "huge integer time": (lambda p: write_doc(p, [row(EPOCH, 10 ** 400)]),
                          f'benchmark #1 ({EPOCH}) "real_time": an integer of 401 digits, '
                          "beyond the range of a double"),
    "huge integer counter": (lambda p: write_doc(p, [row(EPOCH, 1.0,
                                                         samples_per_second=-10 ** 400)]),
                             '"samples_per_second": an integer of 401 digits'),
    "nested 100000 deep": (nested, "JSON nested too deeply (more than 100 levels)"),
    "lone surrogate in name": (lambda p: write_doc(p, [row(EPOCH + "\ud800", 1.0)]),
                               'benchmark #1 "name": a string with a lone surrogate \\ud800 '
                               "(not Unicode text)"),
    "lone surrogate in host": (lambda p: write_doc(p, [row(EPOCH, 1.0)],
                                                   {"host_name": "lab\ud800"}),
                               'context "host_name": a string with a lone surrogate'),
    "lone surrogate in error message": (
        lambda p: write_doc(p, [row(EPOCH, 0.0, error_occurred=True,
                                    error_message="CUDA error \udfff")]),
        f'benchmark #1 ({EPOCH}) "error_message": a string with a lone surrogate \\udfff'),
    "error_occurred a string": (lambda p: write_doc(p, [row(EPOCH, 1.0,
                                                            error_occurred="false")]),
                                f'benchmark #1 ({EPOCH}) has error_occurred "false": '
                                "must be true or false"),
    "no benchmarks": (lambda p: write_doc(p, []),
                      'no benchmarks: the "benchmarks" list is empty'),
}


def argv_for(tool, path, tmp_path):
    """The command line of ``tool`` reading ``path``: compare against a good baseline, the
    one-run tools writing into ``tmp_path/out`` (lab_outputs writes next to ``path``)."""
    if tool == "compare":
        return [write_doc(tmp_path / "good.json", [row(EPOCH, 1.0)]), path]
    if tool == "lab_outputs":
        return [path]
    return [path, "-o", str(tmp_path / "out")]


@pytest.mark.parametrize("tool", TOOL_MODULES)
@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(tool, case, tmp_path, capsys):
    write, problem = BAD_INPUTS[case]
    path = write(tmp_path / "bad.json")
    argv = argv_for(tool, path, tmp_path)
    before = sorted(os.listdir(tmp_path))
    assert TOOL_MODULES[tool].main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith(f"{tool}: {path}: ") and problem in lines[0], lines[0]
    assert captured.out == ""
    assert sorted(os.listdir(tmp_path)) == before        # nothing written


@pytest.mark.parametrize("tool", TOOL_MODULES)
def test_script_bad_input_no_traceback(tool, tmp_path):
    # As users run them: the lone surrogate used to reach stdout (UnicodeEncodeError, exit 1).
    write, problem = BAD_INPUTS["lone surrogate in name"]
    path = write(tmp_path / "bad.json")
    result = run_script(tool, *argv_for(tool, path, tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr == f"{tool}: {path}: {problem}\n"


def boom(*_args, **_kwargs):
    raise ZeroDivisionError("boom\nand a second line")


# tool: (module, the function its main calls that is made to fail)
FAILING_PARTS = {"compare": (comparison, "compare_runs"),
                 "csv_export": (csv_export, "build_table"),
                 "report": (report, "build_report"),
                 "plot": (plot, "make_plots"),
                 "lab_outputs": (lab_outputs, "write_outputs")}


@pytest.mark.parametrize("tool", TOOL_MODULES)
def test_own_failure_is_one_line_and_exit_3(tool, tmp_path, capsys, monkeypatch):
    module, name = FAILING_PARTS[tool]
    monkeypatch.setattr(module, name, boom)
    good = input_path("trainbench_cpu.json")
    argv = {"compare": [good, good], "lab_outputs": [write_doc(tmp_path / "r.json",
                                                               [row(EPOCH, 1.0)])]
            }.get(tool, [good, "-o", str(tmp_path / "out")])
    assert TOOL_MODULES[tool].main(argv) == 3
    assert capsys.readouterr().err == (
        f"{tool}: internal error: ZeroDivisionError: boom and a second line "
        f"(a bug in {tool}, not a problem with the input; please report it)\n")


def test_script_own_failure_exit_3_no_traceback():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import compare, comparison\n"
            "def boom(*a): raise KeyError('x')\n"
            "comparison.compare_runs = boom\n"
            "sys.exit(compare.main(sys.argv[2:]))\n")
    good = os.path.join(os.path.dirname(__file__), "inputs", "gbench_repetitions.json")
    result = subprocess.run([sys.executable, "-c", code, TOOLS, good, good],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr == ("compare: internal error: KeyError: 'x' (a bug in compare, "
                             "not a problem with the input; please report it)\n")


def test_interrupted_is_one_line_and_130(capsys):
    def interrupted(_argv):
        raise KeyboardInterrupt
    assert cli.tool_main("x")(interrupted)([]) == 130
    assert capsys.readouterr().err == "x: interrupted\n"


def test_every_cli_in_tools_has_its_main_wrapped():
    """Every script in tools/ (``if __name__ == "__main__"``) wraps its main in
    ``cli.tool_main(PROG)``, pytorch_baseline.py included (importing it needs torch)."""
    scripts = []
    for path in sorted(glob.glob(os.path.join(TOOLS, "*.py"))):
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        if not any(isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)
                   for n in tree.body):
            continue
        scripts.append(os.path.basename(path))
        main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
        assert [ast.unparse(d) for d in main.decorator_list] == ["cli.tool_main(PROG)"], path
    assert {"compare.py", "csv_export.py", "report.py", "plot.py", "lab_outputs.py",
            "pytorch_baseline.py"} <= set(scripts)
