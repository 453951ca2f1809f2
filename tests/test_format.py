"""The C++ sources stay in the repository's .clang-format style: a diff is a failing test naming
the files, fixed with `clang-format -i <files>` (Debian's clang-format, installed by setup)."""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cpp_sources_are_formatted():
    tool = shutil.which("clang-format") or shutil.which("clang-format-14")
    assert tool, "clang-format is missing: scripts/setup.sh installs it"
    files = subprocess.run(["git", "ls-files", "*.cc", "*.h"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    assert len(files) > 50
    proc = subprocess.run([tool, "--dry-run", "--Werror", *files], cwd=ROOT, capture_output=True, text=True)
    unformatted = sorted({line.split(":")[0] for line in proc.stderr.splitlines() if ": error:" in line})
    assert proc.returncode == 0 and not unformatted, f"not in .clang-format style: {unformatted}"
