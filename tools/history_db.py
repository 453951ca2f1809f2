"""The results history's SQLite database: its schema, ingesting runs, reading them back.

What it does: :func:`ingest_file` reads one Google Benchmark JSON run (gbench.load_run, so
every file the other tools refuse is refused here with the same one-line reason) into the
tables below, keyed by the file's SHA-256 so a file already in is skipped.  :func:`open_db`
opens (``create=True``: creates) a database and refuses one that is not this schema.

  runs       one row per file: its path, SHA-256, machine key and readable name, date,
             git commit (``dirty``: built from a modified tree), the software annotations
             (``ANNOTATIONS``) and the whole context as JSON;
  benchmarks one row per normalized benchmark name (the name compare matches by:
             run settings dropped, the axes a name may lack filled in) with its family;
  axes       the benchmark's axes, one row each;
  results    one row per run x benchmark x metric: value (the mean of the samples, as
             the other tools take it), unit, better direction, status (``STATUSES``)
             and message, ``perturbed`` (trainbench saw the process paused: shown, never
             judged or a baseline).  ``time`` is the real time per iteration in seconds; every
             counter is a metric of its own.  A benchmark that did not measure has one
             row, metric ``time``, value NULL and its status: a failure is a status,
             never a 0;
  samples    the raw samples of a result whose run has repetitions (two or more).

The machine key (:func:`machine_key`) names the hardware only: for a GPU run its name,
memory, SM count and compute capability (and the GPUs of a data-parallel run), for a CPU run
the CPU model and threads.  Versions are annotations; nothing measured enters it.

What it deliberately doesn't do: no ordering of runs or statistics (history_series.py,
history_check.py), no output.  The JSON files stay the source of truth: deleting the
database and ingesting them again rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from datetime import datetime, timezone
from typing import Optional

import comparison
import declarations
import gbench

# Bumped when the tables change: an older database is refused (rebuild it from the files).
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE runs (
  run_id INTEGER PRIMARY KEY, sha256 TEXT UNIQUE NOT NULL, path TEXT NOT NULL,
  machine_key TEXT NOT NULL, machine_name TEXT NOT NULL, date_utc TEXT NOT NULL,
  git_commit TEXT, dirty INTEGER NOT NULL, host_name TEXT,
  libtorch_version TEXT, cuda_driver_version TEXT, cuda_runtime_version TEXT,
  cudnn_version TEXT, trainbench_version TEXT, library_build_type TEXT,
  context_json TEXT NOT NULL);
CREATE TABLE benchmarks (name TEXT PRIMARY KEY, family TEXT NOT NULL);
CREATE TABLE axes (name TEXT NOT NULL, axis TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (name, axis));
CREATE TABLE results (
  result_id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs,
  name TEXT NOT NULL REFERENCES benchmarks, raw_name TEXT NOT NULL, metric TEXT NOT NULL,
  unit TEXT, value REAL, direction TEXT NOT NULL, status TEXT NOT NULL, message TEXT,
  sample_count INTEGER NOT NULL, perturbed INTEGER NOT NULL);
CREATE TABLE samples (result_id INTEGER NOT NULL REFERENCES results,
  sample_index INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (result_id, sample_index));
CREATE INDEX results_by_run ON results (run_id);
"""

# The software a run was built and run with: annotations of a run (a change of one of them
# is a marker on the charts), never part of the machine key.  Labels come from the context
# table the other tools show (declarations.CONTEXT_FIELDS), so they read the same.
ANNOTATIONS = ("libtorch_version", "cuda_driver_version", "cuda_runtime_version",
               "cudnn_version", "trainbench_version", "library_build_type")
LABELS = {key: label for key, label, _ in declarations.CONTEXT_FIELDS}

STATUS_OK, STATUS_ERRORED, STATUS_SKIPPED, STATUS_NOT_RUN = "ok", "errored", "skipped", "not run"
STATUSES = (STATUS_OK, STATUS_ERRORED, STATUS_SKIPPED, STATUS_NOT_RUN)

# trainbench's messages for a benchmark that did not measure (bench/harness/harness.cc,
# interrupt.h): a stop before it started, and the skips that are not failures (no GPU, a
# precision the device lacks).  Anything else (an out-of-memory, an unexpected error) errored.
NOT_RUN_PREFIX = "not run: "
SKIP_MARKERS = ("no CUDA GPU is available", "needs compute capability", "does not run",
                "is not supported")
# An out-of-memory, or the memory guard's refusal of a benchmark that would not fit: both
# mean "no longer fits", so one that fitted before is a new error.
OOM_MARKERS = ("out of memory", "--no_memory_guard runs it anyway")

# The metric name of the real time per iteration (compare's name; declarations' tables give
# it lower-is-better) and its unit.
TIME_METRIC, TIME_UNIT = "time", "s"


class HistoryError(gbench.InputError):
    """Bad input to history.py: a database or file it cannot use (exit status 2)."""


def open_db(path: str, create: bool = False) -> sqlite3.Connection:
    """The database at ``path``; ``create`` makes an empty one where there is none.  A file
    that is not SQLite, or a database of another schema, is a HistoryError."""
    exists = os.path.exists(path)
    if not exists and not create:
        raise HistoryError(path, "no such file (ingest runs into it first)")
    if exists and os.path.isdir(path):
        raise HistoryError(path, "is a directory, not a database")
    try:
        db = sqlite3.connect(path)
        version = _schema_version(db, path) if exists and os.path.getsize(path) else None
        if version is None:
            db.executescript(SCHEMA)
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            db.commit()
    except sqlite3.Error as err:
        raise HistoryError(path, f"cannot use as a database: {err}") from None
    return db


def _schema_version(db: sqlite3.Connection, path: str) -> int:
    """The schema version of an existing database; HistoryError for anything else."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as err:
        raise HistoryError(path, f"not a history database: {err}") from None
    if row is None or row[0] != str(SCHEMA_VERSION):
        raise HistoryError(path, f"a history database of schema {row and row[0]}, not "
                                 f"{SCHEMA_VERSION}: delete it and ingest the JSON files again")
    return SCHEMA_VERSION


def _text(context: dict, key: str) -> str:
    value = context.get(key)
    return "" if value is None else str(value).strip()


def is_gpu_run(context: dict) -> bool:
    """A run on a GPU: its device_name names a device (gbench's list of names saying none)."""
    return _text(context, "device_name").lower() not in gbench.GENERIC_DEVICE_NAMES


def machine_key(context: dict) -> tuple:
    """(key, readable name) of the machine a run measured.  Only what the hardware is: a
    clock reading, a load average, the host name of a GPU run or a version never enters."""
    if is_gpu_run(context):
        name = _text(context, "device_name")
        parts = [name, f"{_text(context, 'gpu_memory_MB') or '?'} MB",
                 f"{_text(context, 'sm_count') or '?'} SMs",
                 f"cc {_text(context, 'compute_capability') or '?'}"]
        gpus = _text(context, "world_size")
        if gpus.isdigit() and int(gpus) > 1:
            parts.append(f"{gpus} GPUs")
            name = f"{name} x{gpus}"
        return "gpu: " + " | ".join(parts), name
    threads = _text(context, "cpu_threads") or _text(context, "num_cpus") or "?"
    model = _text(context, "cpu_model")
    if not model:   # Google Benchmark alone records no CPU model: the host tells machines apart
        model = f"host {_text(context, 'host_name') or '?'}"
    return f"cpu: {model} | {threads} threads", model


def run_date(context: dict, path: str) -> str:
    """The run's date as UTC ISO 8601 (sortable text); the file's mtime without one."""
    text = _text(context, "date")
    try:
        stamp = datetime.fromisoformat(text)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
    except ValueError:
        stamp = datetime.fromtimestamp(os.path.getmtime(path), timezone.utc)
    return stamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit_of(context: dict) -> tuple:
    """(commit or None, dirty): trainbench writes ``git_commit`` as a short hash, with
    ``-dirty`` when the tree had changes, or ``unknown``."""
    text = _text(context, "git_commit")
    dirty = text.endswith("-dirty")
    text = text.removesuffix("-dirty")
    if not text or text == "unknown":
        return None, dirty
    return text, dirty


def benchmark_status(message: Optional[str]) -> str:
    """ok, errored, skipped or not run, from a benchmark's error message (None: ok)."""
    if message is None:
        return STATUS_OK
    if message.startswith(NOT_RUN_PREFIX):
        return STATUS_NOT_RUN
    if any(marker in message for marker in SKIP_MARKERS):
        return STATUS_SKIPPED
    return STATUS_ERRORED


def is_oom(message: Optional[str]) -> bool:
    """An out-of-memory, or the memory guard refusing what would not fit."""
    return bool(message) and any(marker in message for marker in OOM_MARKERS)


def sha256_of(path: str) -> str:
    """SHA-256 of a file's bytes; HistoryError when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise HistoryError(path, "no such file") from None
    except IsADirectoryError:
        raise HistoryError(path, "is a directory, not a JSON file") from None
    except OSError as err:
        raise HistoryError(path, f"cannot read: {err.strerror or err}") from None
    return digest.hexdigest()


def result_rows(run: gbench.Run) -> list:
    """(name, family, axes, raw name, metric, unit, value, direction, status, message,
    perturbed, samples) for every benchmark and metric of a run."""
    added = declarations.merged_added_axes(run.context, {})
    benches = declarations.collect_benchmarks(run, added)
    keys = comparison.match_keys(list(benches), added=[added])[0]
    rows = []
    for raw, bench in benches.items():
        name = keys[raw]
        axes = dict(bench.absent)
        axes.update(gbench.parse_name(name).axes)
        base = (name, bench.family, axes, raw)
        status = benchmark_status(bench.error)
        if status != STATUS_OK or not bench.times_s:
            if bench.source == "none" and status == STATUS_OK:
                continue    # only aggregates that are not samples (stddev, cv): nothing measured
            rows.append(base + (TIME_METRIC, TIME_UNIT, None, gbench.LOWER, status,
                                bench.error, False, []))
            continue
        paused = bench.perturbation()
        note = (f"perturbed: paused {paused['pauses']} times, {paused['paused_s']:.1f} s"
                if paused else None)
        metrics = [(TIME_METRIC, TIME_UNIT, bench.times_s)]
        metrics += [(counter, declarations.counter_unit(counter, run.context), values)
                    for counter, values in bench.counters.items()]
        for metric, unit, values in metrics:
            direction = declarations.counter_direction(metric, run.context)
            value = gbench.mean(values)
            if value is None:   # every sample NaN or infinite: no number, not a 0
                rows.append(base + (metric, unit, None, direction, STATUS_ERRORED,
                                    f"{metric} is not a finite number in the run", False, []))
                continue
            samples = values if len(values) >= 2 else []
            rows.append(base + (metric, unit, value, direction, STATUS_OK, note, bool(paused),
                                samples))
    return rows


def ingest_file(db: sqlite3.Connection, path: str, known: set) -> bool:
    """Adds one file's run to ``db`` (no commit).  False when its SHA-256 is in ``known``
    (already ingested); a file that cannot be read or is not benchmark output raises
    gbench.InputError, with nothing written."""
    digest = sha256_of(path)
    if digest in known:
        return False
    run = gbench.load_run(path)
    if not run.rows:
        raise HistoryError(path, "no benchmarks: the \"benchmarks\" list is empty")
    rows = result_rows(run)
    if not rows:
        raise HistoryError(path, "no benchmark with a measurement or a status")
    context = run.context
    key, name = machine_key(context)
    commit, dirty = commit_of(context)
    cursor = db.execute(
        "INSERT INTO runs (sha256, path, machine_key, machine_name, date_utc, git_commit, "
        "dirty, host_name, " + ", ".join(ANNOTATIONS) + ", context_json) VALUES ("
        + ", ".join("?" * (9 + len(ANNOTATIONS))) + ")",
        (digest, path, key, name, run_date(context, path), commit, int(dirty),
         _text(context, "host_name"), *[_text(context, a) or None for a in ANNOTATIONS],
         json.dumps(context, sort_keys=True)))
    run_id = cursor.lastrowid
    seen = {}
    for bench, family, axes, *_ in rows:
        seen.setdefault(bench, (family, axes))
    db.executemany("INSERT OR IGNORE INTO benchmarks VALUES (?, ?)",
                   [(bench, family) for bench, (family, _) in seen.items()])
    db.executemany("INSERT OR IGNORE INTO axes VALUES (?, ?, ?)",
                   [(bench, axis, str(value)) for bench, (_, axes) in seen.items()
                    for axis, value in axes.items()])
    # Ids given here, so that one executemany inserts the results and one their samples.
    first_id = db.execute("SELECT COALESCE(MAX(result_id), 0) + 1 FROM results").fetchone()[0]
    db.executemany(
        "INSERT INTO results (result_id, run_id, name, raw_name, metric, unit, value, "
        "direction, status, message, sample_count, perturbed) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(first_id + i, run_id, bench, raw, metric, unit, value, direction, status, message,
          len(samples) or (1 if value is not None else 0), int(perturbed))
         for i, (bench, _, _, raw, metric, unit, value, direction, status, message, perturbed,
                 samples) in enumerate(rows)])
    db.executemany("INSERT INTO samples VALUES (?, ?, ?)",
                   [(first_id + i, index, value) for i, row in enumerate(rows)
                    for index, value in enumerate(row[-1])])
    known.add(digest)
    return True


def json_files(target: str) -> list:
    """The files an ingest argument names: the file itself, or every ``*.json`` under a
    directory (sorted, hidden files and folders left out)."""
    if not os.path.isdir(target):
        return [target]
    found = []
    for folder, subfolders, files in os.walk(target):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [os.path.join(folder, f) for f in sorted(files)
                  if f.endswith(".json") and not f.startswith(".")]
    return found


def known_digests(db: sqlite3.Connection) -> set:
    return {row[0] for row in db.execute("SELECT sha256 FROM runs")}
