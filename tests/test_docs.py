"""README.md, CHANGELOG.md and every page under docs/ stay true to the repository and to the
binary: a newcomer reading only this repository can follow every link and path, run every flag
the pages name, and trust the counter table.

- every relative link resolves to an existing file inside the repository (and a #fragment to a
  heading of that page); every repository path named in backticks exists; no path names
  anything outside the repository except the few system paths trainbench itself uses;
- every `--flag` named is one of `./build/trainbench --help` (Google Benchmark's flags
  included), or, in a paragraph, list item, table row or code block that names a tool or a
  launcher, one of that tool's own flags;
- README is a doorway: at most 200 lines, linking every docs page;
- docs/counters.md's counter table is, row for row, the declaration (bench's `kCounters`) that
  a real run of build/trainbench writes into its JSON context as "counters".

Needs build/trainbench (scripts/test.sh builds it first); the run uses synthetic data.
"""
import json
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "build" / "trainbench"
DOC_PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
DOCS = ["README.md", "CHANGELOG.md"] + DOC_PAGES
README_MAX_LINES = 200

# Absolute paths a page may name: trainbench's default data directory (Debian's
# dataset-fashion-mnist), what the host memory probe resets, and the example outputs of the
# bad-input table in docs/command-line.md (a missing directory, a read-only one, a full device).
SYSTEM_PATHS = {"/usr/share/datasets/fashion-mnist", "/proc/self/clear_refs", "/dev/full",
                "/no/such", "/no/such/run.json", "/ro", "/ro/run.json"}
# Folders of the machine a page was written on: never part of what a reader has.
MACHINE_PREFIXES = ("/work/", "/tmp/", "/home/", "/root/", "/mnt/")

# The counter table's header in docs/counters.md: the declaration's fields, in its order.
COUNTER_HEADER = "| counter | unit | better | families | meaning |"
# The run that writes the declaration: a few seconds on synthetic data.
COUNTER_RUN = ["--dataset=synthetic", "--samples=64", "--epochs=1", "--warmup_steps=1", "--quiet",
               "--model=Small", "--batch=16", "--device=cpu", "--benchmark_filter=BM_TrainEpoch",
               "--benchmark_out_format=json"]

# Slurm's sbatch options the pages use in an #SBATCH line (documented by `man sbatch`; Slurm
# is not installed here to ask).
SBATCH_FLAGS = {"nodes", "ntasks-per-node", "gpus-per-node"}


def read(doc):
    return (ROOT / doc).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def repository_files():
    """Files in the repository: tracked, or new and not ignored (a page written with them)."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return {line for line in out.stdout.splitlines() if (ROOT / line).exists()}


def tracked_top_level():
    """The repository's top-level files and folders (what a repository path starts with)."""
    return {name.split("/", 1)[0] for name in repository_files()}


def code_spans(text):
    """The contents of `backticked` spans and of fenced code blocks."""
    fences = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    unfenced = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    return re.findall(r"`([^`\n]+)`", unfenced) + fences


def link_targets(text):
    """Markdown link targets outside code."""
    unfenced = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    unfenced = re.sub(r"`[^`\n]+`", "", unfenced)
    return re.findall(r"\]\(([^)\s]+)\)", unfenced)


def named_paths(text):
    """Backticked words that look like paths (repository paths are written from its root)."""
    words = re.findall(r"`([^`\s]+)`", text)
    return [w.rstrip(".,:;") for w in words if "/" in w or w.endswith((".md", ".txt", ".cc", ".h", ".py", ".sh"))]


def heading_anchors(text):
    """GitHub's anchors for a page's headings."""
    anchors = set()
    for heading in re.findall(r"^#+\s+(.*)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_resolves(doc):
    checked = []
    for target in link_targets(read(doc)):
        if "://" in target or target.startswith("mailto:"):
            continue  # the web
        path, _, fragment = target.partition("#")
        page = (ROOT / doc).parent / path if path else ROOT / doc
        resolved = page.resolve()
        assert resolved == ROOT or ROOT in resolved.parents, f"{doc} links {target}, outside the repository"
        assert resolved.exists(), f"{doc} links {target}, which does not exist"
        if fragment:
            assert resolved.suffix == ".md", f"{doc} links {target}: a fragment of a page that is not Markdown"
            assert fragment in heading_anchors(resolved.read_text(encoding="utf-8")), \
                f"{doc} links {target}: no such heading in {resolved.relative_to(ROOT)}"
        checked.append(target)
    if doc == "README.md":
        assert len(checked) >= len(DOC_PAGES), checked


@pytest.mark.parametrize("doc", DOCS)
def test_every_repository_path_named_exists(doc):
    top = tracked_top_level()
    basenames = {Path(f).name for f in repository_files()}
    checked = []
    for path in named_paths(read(doc)):
        path = path.split("#", 1)[0]
        if not path or "<" in path or "*" in path or "://" in path or "..." in path:
            continue  # placeholders (results/<new>.json), globs, links to the web, elisions
        assert "../" not in path, f"{doc} names {path}: repository paths are written from its root"
        first = path.split("/", 1)[0]
        if "/" not in path.rstrip("/") and path.endswith((".cc", ".h", ".py")) and first not in top:
            # A source file named by its own name (`lab_suite_test.cc`): some file has that name.
            assert path in basenames, f"{doc} names {path}, and no file in the repository has that name"
            checked.append(path)
            continue
        if first not in top:
            continue  # build outputs, system paths, benchmark names, flags
        checked.append(path)
        assert (ROOT / path).exists(), f"{doc} names {path}, which does not exist"
    assert checked, f"{doc} names no repository path: the check found nothing to check"


def test_the_path_checks_check_many_paths():
    """Across the pages, the checks above are not vacuous."""
    top = tracked_top_level()
    named = [p for doc in DOCS for p in named_paths(read(doc)) if p.split("/", 1)[0] in top]
    assert len(named) >= 60, named


@pytest.mark.parametrize("doc", DOCS)
def test_no_path_outside_the_repository(doc):
    text = read(doc)
    for prefix in MACHINE_PREFIXES:
        assert prefix not in text, f"{doc} names {prefix}...: a folder of the machine it was written on"
    for span in code_spans(text):
        for token in re.split(r"[\s=]+", span):
            token = token.strip("'\"").rstrip(".,:;)")
            if re.fullmatch(r"/[\w.-]+(/[\w.-]+)*/?", token):
                assert token.rstrip("/") in SYSTEM_PATHS, \
                    f"{doc} names {token}, a path outside the repository (SYSTEM_PATHS lists those allowed)"


# ---- flags ------------------------------------------------------------------------------

def help_text(cmd):
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed: {proc.stderr[-1000:]}"
    return proc.stdout + proc.stderr


def flags_in(text):
    return set(re.findall(r"(?<![\w\-/])--([A-Za-z][\w-]*)", text))


@lru_cache(maxsize=None)
def trainbench_flags():
    """Every flag --help names (trainbench's and Google Benchmark's), and the --no forms of
    the boolean ones (--notrace_epoch and --no_trace_epoch both turn one off)."""
    assert BINARY.exists(), f"{BINARY} is missing: build with scripts/setup.sh"
    text = help_text([str(BINARY), "--help"])
    flags = flags_in(text) | {"help"}
    for name in re.findall(r"--(\w+)=(?:true|false)\b", text):
        flags |= {"no" + name, "no_" + name}
    assert {"batch", "benchmark_filter", "memory_guard", "nomemory_guard"} <= flags, flags
    return frozenset(flags)


def python_tool(path):
    return lambda: help_text([sys.executable, str(ROOT / path), "--help"])


# Tools and launchers whose own flags a block may use when it names them.
TOOLS = {
    "compare.py": python_tool("tools/compare.py"),
    "csv_export.py": python_tool("tools/csv_export.py"),
    "plot.py": python_tool("tools/plot.py"),
    "report.py": python_tool("tools/report.py"),
    "pytorch_baseline.py": python_tool("tools/pytorch_baseline.py"),
    "device_summary.py": python_tool("scripts/device_summary.py"),
    "torchrun": lambda: help_text([str(Path(sys.executable).parent / "torchrun"), "--help"]),
}


@lru_cache(maxsize=None)
def tool_flags(tool):
    if tool == "#SBATCH":
        return frozenset(SBATCH_FLAGS)
    return frozenset(flags_in(TOOLS[tool]()))


def blocks(text):
    """A page cut into the units a flag belongs to: fenced code blocks, table rows, list items
    and paragraphs."""
    out, current, fence = [], [], None
    for line in text.splitlines():
        if fence is not None:
            fence.append(line)
            if line.startswith("```"):
                out.append("\n".join(fence))
                fence = None
            continue
        starts_item = line.startswith("|") or re.match(r"\s{0,3}(?:[-*]|\d+\.)\s", line)
        if line.startswith("```") or not line.strip() or starts_item:
            if current:
                out.append("\n".join(current))
            current = []
        if line.startswith("```"):
            fence = [line]
        elif line.startswith("|"):
            out.append(line)
        elif line.strip():
            current.append(line)
    if current:
        out.append("\n".join(current))
    if fence:
        out.append("\n".join(fence))
    return out


@pytest.mark.parametrize("doc", DOCS)
def test_every_flag_named_exists(doc):
    known = trainbench_flags()
    for block in blocks(read(doc)):
        named = flags_in(block)
        if not named:
            continue
        allowed = set(known)
        for tool in list(TOOLS) + ["#SBATCH"]:
            if tool in block:
                allowed |= tool_flags(tool)
        unknown = sorted(named - allowed)
        assert not unknown, (f"{doc} names --{', --'.join(unknown)}: not in ./build/trainbench --help, "
                             f"nor a flag of a tool this block names:\n{block}")


def test_flag_check_is_scoped_to_the_tool_named():
    """A tool's flag counts only where its tool is named: --threshold is compare.py's."""
    assert "threshold" not in trainbench_flags()
    assert "threshold" in tool_flags("compare.py")
    assert "nproc-per-node" in tool_flags("torchrun")
    assert [b for b in blocks("text --x\n\n| a | --y |\n- item --z\n```\n--w\n```\n") if "--" in b] == \
        ["text --x", "| a | --y |", "- item --z", "```\n--w\n```"]


# ---- README as a doorway ----------------------------------------------------------------

def test_readme_is_at_most_200_lines():
    lines = read("README.md").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_readme_links_every_docs_page():
    targets = {t.partition("#")[0] for t in link_targets(read("README.md"))}
    missing = [page for page in DOC_PAGES if page not in targets]
    assert not missing, f"README.md does not link {missing}"
    assert "CHANGELOG.md" in targets


# ---- the counter table against the declaration ------------------------------------------

@pytest.fixture(scope="module")
def declared_counters(tmp_path_factory):
    """The counters a real run declares in its context, in their order."""
    assert BINARY.exists(), f"{BINARY} is missing: build with scripts/setup.sh"
    tmp = tmp_path_factory.mktemp("counters")
    out = tmp / "run.json"
    proc = subprocess.run([str(BINARY)] + COUNTER_RUN + [f"--benchmark_out={out}"], cwd=tmp,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    context = json.loads(out.read_text())["context"]
    assert "counters" in context, "the run's context has no \"counters\" declaration"
    counters = json.loads(context["counters"])["counters"]
    assert counters, "the run declares no counters"
    return counters


def cells(row):
    """A table row's cells; "\\|" is a | inside a cell."""
    parts = re.split(r"(?<!\\)\|", row.strip())
    assert parts[0] == "" and parts[-1] == "", f"not a table row: {row}"
    return [c.strip().replace("\\|", "|") for c in parts[1:-1]]


def counter_tables(text):
    """The rows of each table that starts with the counter header."""
    lines = text.splitlines()
    tables = []
    for i, line in enumerate(lines):
        if line.strip() == COUNTER_HEADER:
            assert re.fullmatch(r"\|( -+ \|){5}", lines[i + 1].strip()), lines[i + 1]
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(row)
            tables.append(rows)
    return tables


def expected_rows(counters):
    """The table rows a declaration asks for: name in backticks, families as declared."""
    return [[f"`{c['name']}`", c["unit"], c["better"], ", ".join(c["families"]), c["meaning"]]
            for c in counters]


def table_problems(rows, expected):
    """What differs between a table's rows and the declaration's: missing, extra, order, text."""
    in_table, declared = [r[0] for r in rows], [e[0] for e in expected]
    problems = [f"lacks the declared counter {n}" for n in declared if n not in in_table]
    problems += [f"has {n}, which the run does not declare" for n in in_table if n not in declared]
    if not problems and in_table != declared:
        problems.append("lists the counters in another order than the declaration")
    if not problems:
        problems += [f"row differs from the declaration:\n  page: {row}\n  run:  {want}"
                     for row, want in zip(rows, expected) if row != want]
    return problems


def test_counter_table_is_the_declaration(declared_counters):
    tables = counter_tables(read("docs/counters.md"))
    assert len(tables) == 1, f"docs/counters.md has {len(tables)} tables headed {COUNTER_HEADER!r}; one is wanted"
    problems = table_problems([cells(r) for r in tables[0]], expected_rows(declared_counters))
    assert not problems, "docs/counters.md " + "\ndocs/counters.md ".join(problems)


def test_counter_notes_name_declared_counters(declared_counters):
    """A note under the table is about a counter the run declares (no note outlives a rename)."""
    names = {c["name"] for c in declared_counters}
    for lead in re.findall(r"^\*\*((?:`\w+`(?:, )?)+)\*\*", read("docs/counters.md"), flags=re.M):
        for name in re.findall(r"`(\w+)`", lead):
            assert name in names, f"docs/counters.md has a note on {name}, which the run does not declare"


def test_one_counter_table_in_all_the_pages():
    for doc in DOCS:
        if doc != "docs/counters.md":
            assert not counter_tables(read(doc)), f"{doc} has a counter table: counters are tabled in docs/counters.md"


def test_counter_table_check_fails_on_drift():
    """The comparison sees a missing, an extra, a reordered and a changed row, and reads a
    "\\|" inside a cell as |."""
    declared = [{"name": "a", "unit": "s", "better": "lower", "families": ["BM_X", "BM_Y"], "meaning": "x | y"},
                {"name": "b", "unit": "%", "better": "higher", "families": ["BM_X"], "meaning": "z"}]
    page = (f"{COUNTER_HEADER}\n| --- | --- | --- | --- | --- |\n"
            "| `a` | s | lower | BM_X, BM_Y | x \\| y |\n| `b` | % | higher | BM_X | z |\n")
    rows = [cells(r) for r in counter_tables(page)[0]]
    want = expected_rows(declared)
    assert table_problems(rows, want) == []
    assert table_problems(rows[:1], want) == ["lacks the declared counter `b`"]
    assert table_problems(rows, want[:1]) == ["has `b`, which the run does not declare"]
    assert table_problems(rows[::-1], want) == ["lists the counters in another order than the declaration"]
    changed = [rows[0], rows[1][:2] + ["lower"] + rows[1][3:]]
    assert len(table_problems(changed, want)) == 1 and "row differs" in table_problems(changed, want)[0]
    families = [rows[0][:3] + ["BM_Y, BM_X"] + rows[0][4:], rows[1]]
    assert len(table_problems(families, want)) == 1


# ---- docs/lab.md ------------------------------------------------------------------------

def test_lab_md_has_a_row_per_lab_question():
    text = read("docs/lab.md")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    cells_ = [re.split(r"(?<!\\)\|", row) for row in rows]  # "\|" is a | inside a cell
    questions = [c[1].strip() for c in cells_]
    assert questions == ["CPU vs GPU", "batch size", "batch vs accuracy", "model size", "workers",
                         "precision", "small models", "idle time", "transfers"]
    for row, c in zip(rows, cells_):
        assert len(c) == 6, row  # | question | benchmark | counters | source file |
