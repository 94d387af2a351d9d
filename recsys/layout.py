"""The one map of file and folder names: the data directory, a run's work folder and the
published run folder. Every other module takes names from here.

    DATA_DIR/warehouse.duckdb             events warehouse and run_metrics (recsys.warehouse)
    DATA_DIR/tuned.yaml                   written by `recsys tune`, read by every run
    DATA_DIR/cache/extract/<key>/         reusable extractions (tasks/extract/cache.py)
    DATA_DIR/datasets/ml-100k/            the default data set
    DATA_DIR/tune/work/<id>/              a search's trials and plot
    DATA_DIR/work/<run_id>/stage.duckdb   the run's private DuckDB (one writer: extract)
    DATA_DIR/work/<run_id>/corpus.txt     training corpus for gensim's corpus_file mode
    DATA_DIR/work/<run_id>/run/           files to publish, assembled while the run goes
    DATA_DIR/runs/<run_id>/               the same folder after a rename, once complete
    DATA_DIR/published/current            symlink to runs/<run_id>, swapped by rename(2)

A folder under runs/ is therefore always complete; a failed run is rolled back to its
reports in work/<run_id>/reports/ and a FAILED note (tasks/rundir.py) and leaves runs/ and
published/ as they were.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from recsys.errors import RecsysError, UsageError

# --- the data directory ---
WAREHOUSE = "warehouse.duckdb"
TUNED = "tuned.yaml"
RUNS = "runs"
PUBLISHED = "published"
CURRENT = "current"
HISTORY = "history.jsonl"  # in published/: every switch of current
PUBLISH_LOCK = ".publish.lock"  # in published/: held while a run checks and switches current
WORK = "work"
CACHE = "cache"
DATASETS = "datasets"  # datasets/<name>/raw/ as fetched, datasets/<name>/events.parquet
DATASET_RAW = "raw"
DATASET_EVENTS = "events.parquet"
TUNE = "tune"

# --- a run folder (work/<id>/run while assembled, runs/<id> once published) ---
MANIFEST = "manifest.json"
VECTORS = "vectors.npy"  # input vectors, float32, no pickle
CONTEXT_VECTORS = "context_vectors.npy"  # output vectors (negative sampling / softmax)
VOCAB = "vocab.parquet"  # row -> item_id, count
INDEX_FILE = "index.faiss"
INDEX_INFO = "index.json"  # kind, search parameters, recall, build time, bytes per vector
ITEM_RECS = "item_recs.parquet"
USER_RECS = "user_recs.parquet"
# Users with a list whose every candidate was already seen or ruled out (user_id): known,
# so not answered with the unknown-user fallback (which would repeat what they saw).
USER_RECS_EMPTY = "user_recs_empty.parquet"
METRICS = "metrics.json"
EXTRACT_REPORT = "extract.json"
QUALITY_REPORT = "quality.md"
QUALITY_PROFILE = "quality_profile.json"  # the next run's drift baseline
DATA_DOCS = "data_docs"
DIAGNOSTICS = "diagnostics.json"
EMBEDDING_MAP = "embedding_map.png"
RUN_REPORT = "report.html"
REPORT_IMAGES = (".png", ".svg")  # the run folder's images a report server may hand out

MODEL_FILES = (VECTORS, CONTEXT_VECTORS, VOCAB)  # a trained model (what a refresh adopts)
# The model the gate evaluated (trained on the training split only), kept beside the served
# one after a refit: a later run re-scores the champion with it, since the refit model has
# seen events that a later run may hold out.
EVALUATED_PREFIX = "evaluated_"
EVALUATED_FILES = tuple(EVALUATED_PREFIX + name for name in MODEL_FILES)
COUNT_LISTS = "count_lists.parquet"  # the count channel's item lists (item_id, rank, ...)
# The attributes the business rules read (item_id, category, price), published only when
# `export.item_attributes` is set, so that `recsys serve` applies the same rules.
ITEM_ATTRIBUTES = "item_attributes.parquet"
# What a run must hold before it may be published.
REQUIRED_FILES = (
    *MODEL_FILES,
    INDEX_FILE,
    INDEX_INFO,
    COUNT_LISTS,
    ITEM_RECS,
    USER_RECS,
    METRICS,
)
# What live recall reads (`recsys similar`, `recsys serve`), hashed on every load (other
# files are checked by size only): the model, the index, the count channel and the rules'
# attributes (a run exported without an attributes file lists none, and none is checked).
SERVING_FILES = (*MODEL_FILES, INDEX_FILE, INDEX_INFO, COUNT_LISTS, ITEM_ATTRIBUTES)
# What the server reads besides: the exported lists (users, and items without a vector).
SERVED_LISTS = (USER_RECS, USER_RECS_EMPTY, ITEM_RECS)

# --- a run's work folder ---
STAGE_DB = "stage.duckdb"
CORPUS = "corpus.txt"
REFIT_CORPUS = "corpus_all.txt"  # every split's sessions, for the refit
WARM_CORPUS = "corpus_warm.txt"  # the new sessions a warm start continues on
OUT = "run"
REPORTS = "reports"  # what a rolled-back run keeps
FAILED = "FAILED"  # the note of a rolled-back run
OWNER = "owner.lock"  # held (flock) by the live process running the run (recsys.ops.owner)
DEEPWALK_CORPUS = "corpus_deepwalk.txt"
INGEST = "ingest"  # hand-over files between the stage and the warehouse:
INGEST_EVENTS = "warehouse_events.parquet"  # the warehouse's events, for the stage
INGEST_ITEM_COUNTS = "warehouse_item_counts.parquet"  # its stored item counts
INGEST_MARKS = "warehouse_marks.parquet"  # the users marked as changed
INGEST_RESULTS = "results.parquet"  # the stage's recomputed results, for the warehouse
INGEST_COUNTS = "item_counts.parquet"  # the stage's item counts, for the warehouse
SCRATCH_DB = "scratch.duckdb"  # a backfill reads and types its files here
EXPORT_SHARDS = "export-shards"  # the shards' Parquet parts

# --- a search's work folder (DATA_DIR/tune/work/<id>/) ---
TRAIN_PERIOD = "train_period.parquet"
VALIDATION_DB = "validation.duckdb"
VALIDATION_CORPUS = "validation_corpus.txt"
VALIDATION_SAMPLE = "validation_sample.txt"
BASELINE_LISTS = "baseline_lists.parquet"  # the tuned baselines' lists, for the trials
TRIALS = "trials.json"
TRIALS_PLOT = "trials.svg"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: UTC time plus a random suffix."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunPaths(BaseModel):
    """One run: where its files live and the events it reads; the small record passed
    between tasks instead of connections."""

    data_dir: Path
    run_id: str
    events: str | None = None  # file, glob, folder or URL; None: the default data set
    stage_override: Path | None = None  # tuning trials read a shared validation stage

    @classmethod
    def new(cls, data_dir: Path | str, events: str | None = None) -> RunPaths:
        return cls(data_dir=Path(data_dir).resolve(), run_id=new_run_id(), events=events)

    @property
    def work_dir(self) -> Path:
        return self.data_dir / WORK / self.run_id

    @property
    def stage_db(self) -> Path:
        return self.stage_override or self.work_dir / STAGE_DB

    @property
    def corpus(self) -> Path:
        return self.work_dir / CORPUS

    @property
    def out(self) -> Path:
        """The folder being assembled for publishing."""
        return self.work_dir / OUT

    @property
    def final_dir(self) -> Path:
        return runs_dir(self.data_dir) / self.run_id

    def ensure(self) -> RunPaths:
        self.out.mkdir(parents=True, exist_ok=True)
        return self


def runs_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / RUNS


def published_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / PUBLISHED


def current_link(data_dir: Path | str) -> Path:
    return published_dir(data_dir) / CURRENT


def current_target(run_id: str) -> Path:
    """What `current` links to, relative to published/ (the data dir can move)."""
    return Path("..") / RUNS / run_id


def history_path(data_dir: Path | str) -> Path:
    return published_dir(data_dir) / HISTORY


def warehouse_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / WAREHOUSE


def tuned_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / TUNED


def extract_cache_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / CACHE / "extract"


def dataset_dir(data_dir: Path | str, name: str) -> Path:
    return Path(data_dir) / DATASETS / name


def tune_dir(data_dir: Path | str) -> Path:
    """The data directory of a search (its runs go to tune/work/<id>/)."""
    return Path(data_dir) / TUNE


def data_dir_of(value: Path | None, must_exist: bool = False) -> Path:
    """The data directory of a command (--data-dir, else $RECSYS_DATA_DIR, else ./data); a
    file or a dangling symlink in its place is a usage error for every command, and so is
    a missing one for the commands that only read it (`must_exist`): a mistyped path is
    named rather than answered with "no runs" or "no published model"."""
    folder = Path(value or os.environ.get("RECSYS_DATA_DIR") or "data")
    env = value is None and "RECSYS_DATA_DIR" in os.environ
    where = "RECSYS_DATA_DIR" if env else "--data-dir"
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{where} {folder} is a file, not a directory")
    if folder.is_symlink() and not folder.exists():
        raise UsageError(f"{where} {folder} is a symlink to nothing (dangling, or a loop)")
    if must_exist and not folder.is_dir():
        raise UsageError(f"{where} {folder} does not exist")
    return folder


MIN_FREE_BYTES = 16 << 20  # below this a run cannot even write its stage database


def check_data_dir(data_dir: Path | str) -> Path:
    """Create the data directory if needed and make sure a run can write to it; UsageError
    (one line) for a file in its place or a folder that cannot be written (read-only,
    full, no permission)."""
    path = Path(data_dir)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--data-dir {path} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--data-dir {path} cannot be written: {exc.strerror}") from exc
    # The folders a run writes into, where they exist already: a read-only published/ was
    # found only when the run, trained and exported, tried to switch `current`.
    for folder in (path, *(path / name for name in (RUNS, PUBLISHED, WORK, CACHE))):
        if folder != path and not folder.exists() and not folder.is_symlink():
            continue
        try:
            handle, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
            os.close(handle)
            os.unlink(probe)
        except OSError as exc:
            where = f"--data-dir {path}" + ("" if folder == path else f": {folder.name}/")
            raise UsageError(f"{where} cannot be written: {exc.strerror}") from exc
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        # A run writes a stage database, a corpus and a run folder: on a full disk it would
        # fail midway with ENOSPC; say so before it starts (not a usage error: exit 1).
        raise RecsysError(f"--data-dir {path} has only {free:,} bytes free: the disk is full")
    return path
