"""README.md and the docs/ pages name only paths that exist in the repository, and none outside
it: a newcomer reading only this repository can follow every one."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", "docs/lab.md", "docs/gpu-runs.md", "docs/test-device.md"]


def tracked_top_level():
    """The repository's top-level files and folders (what a repository path starts with)."""
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    names = {line.split("/", 1)[0] for line in out.stdout.splitlines()}
    return names


def named_paths(text):
    """Backticked words and Markdown link targets that look like paths."""
    words = re.findall(r"`([^`\s]+)`", text) + re.findall(r"\]\(([^)\s]+)\)", text)
    return [w.rstrip(".,:;") for w in words if "/" in w or w.endswith((".md", ".txt", ".cc", ".py", ".sh"))]


@pytest.mark.parametrize("doc", DOCS)
def test_every_repository_path_named_exists(doc):
    top = tracked_top_level()
    checked = []
    for path in named_paths((ROOT / doc).read_text(encoding="utf-8")):
        if "<" in path or "*" in path or "://" in path:
            continue  # placeholders (results/<new>.json), globs, links to the web
        first = path.split("/", 1)[0]
        if first not in top:
            continue  # build outputs, system paths, benchmark names, flags
        checked.append(path)
        assert (ROOT / path).exists(), f"{doc} names {path}, which does not exist"
    assert len(checked) >= 5, checked  # the check found the paths it is meant to check


@pytest.mark.parametrize("doc", DOCS)
def test_no_path_outside_the_repository(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert "../" not in text, f"{doc} points outside the repository"


def test_lab_md_has_a_row_per_lab_question():
    text = (ROOT / "docs" / "lab.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    cells = [re.split(r"(?<!\\)\|", row) for row in rows]  # "\|" is a | inside a cell
    questions = [c[1].strip() for c in cells]
    assert questions == ["CPU vs GPU", "batch size", "batch vs accuracy", "model size", "workers",
                         "precision", "small models", "idle time", "transfers"]
    for row, c in zip(rows, cells):
        assert len(c) == 6, row  # | question | benchmark | counters | source file |
