"""Extract: events file -> typed, cleaned, sessionized events and a gensim corpus (DuckDB).

Everything runs as SQL files in `sql/extract/` against the run's own DuckDB file; nothing is
pulled into pandas. Outputs: `stage.duckdb` tables `typed_events`, `events`, `items`, the
corpus file (one session per line), and `extract.json` in the run folder. With
`extract.incremental` the input is first merged into the events warehouse (`ingest.py`)
and the stage is rebuilt from it, recomputing only what changed (`incremental.py`).

    inputs.py       the events argument resolved (file, glob, folder, URL) and fingerprinted
    read.py         reading an input as `source_rows`, finding its columns
    ids_as_written.py  ids exactly as the file writes them (JSON text, Parquet types)
    params.py       the values bound into the extract SQL
    ingest.py       incremental: new and changed files into the warehouse
    incremental.py  incremental: re-clean and re-sessionize only the changed users
    backfill.py     the backfill task: one date range of the warehouse rebuilt
    cache.py        reuse of an earlier extraction of the same input bytes and settings
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import ExtractConfig, PipelineConfig
from recsys.data.attributes import check_attributes
from recsys.data.movielens import ml100k_events
from recsys.inputs import EventsInput, resolve
from recsys.layout import EXTRACT_REPORT, INGEST, RunPaths
from recsys.stage import StageReport, logger, report_artifact, retry_unless_deterministic, timed
from recsys.tasks.extract import cache
from recsys.tasks.extract.columns import column_slots
from recsys.tasks.extract.incremental import build_rows, store_results
from recsys.tasks.extract.ingest import ingest
from recsys.tasks.extract.params import CORPUS_IDENTS, sql_params
from recsys.tasks.extract.read import drop_source, read_source, scan_errors


def _cheaper_string_writes(con: duckdb.DuckDBPyConnection) -> None:
    """Store the stage's id columns with plain dictionary/FSST compression, not DuckDB's
    combined DICT_FSST: choosing and writing that one took ~35% longer for 10M ids, the
    largest single cost of storing typed_events and events (docs/extract.md). A DuckDB
    without the method (before 1.3) keeps its default."""
    with contextlib.suppress(duckdb.Error):
        con.execute("SET disabled_compression_methods = 'dict_fsst'")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _run_sql(
    con: duckdb.DuckDBPyConnection,
    source: EventsInput,
    paths: RunPaths,
    cfg: ExtractConfig,
    params: dict[str, object],
    scratch: Path,
) -> tuple[dict, object, dict | None]:
    """The stage's SQL on its own DuckDB: summary stats, newest input time, ingest details."""
    log = logger()
    _cheaper_string_writes(con)
    steps = ["extract/valid_view", "extract/sessions_view"]
    steps += ["extract/split", "extract/user_items", "extract/items", "extract/corpus"]
    export = recompute = None
    lazy = False  # source_rows is a view over the input files (read_source)
    if cfg.incremental:
        log.info("extract: ingesting %s into the warehouse", source.source)
        ingested, export = ingest(con, source, paths.data_dir, scratch, cfg, params)
        params["use_session_ref"] = ingested.session_ref
        incremental = ingested.model_dump()
    else:
        log.info("extract: reading %s (%s)", source.source, source.format)
        # Parquet is read by extract/rows itself (no copy of the input first).
        lazy = read_source(
            con,
            source,
            cfg.csv_delimiter,
            lazy=True,
            columns=cfg.columns,
        )
        slots = column_slots(con, cfg, source.source)
        params["use_session_ref"] = slots["session_id"] is not None
        sqlrun.run(con, "extract/typed", params, idents=slots)
        sqlrun.run(con, "extract/prior_none")
        incremental = None
    # Input order is a column from here on and every output that needs an order says
    # ORDER BY; letting DuckDB reorder the rest saves memory and spilling.
    con.execute("SET preserve_insertion_order = false")
    if export is not None:
        recompute = build_rows(con, export, params)
        incremental["recompute"] = recompute.model_dump()
        log.info(
            "extract: %s recompute: %d users, %d rows (%d rows kept their stored results)",
            recompute.mode,
            recompute.users,
            recompute.rows,
            recompute.stored_rows,
        )
    else:
        # extract/rows is where a lazily read input's rows are first read
        with scan_errors(con, source, cfg.csv_delimiter, lazy):
            sqlrun.run(con, "extract/rows", params)
    drop_source(con)  # the input (copy or view) is no longer needed
    con.execute("drop view if exists warehouse_rows")
    for done, step in enumerate(steps, start=1):
        sqlrun.run(con, step, params, idents=CORPUS_IDENTS if step == "extract/corpus" else None)
        log.info("extract: %s done (%d/%d)", step, done, len(steps))
    stats = sqlrun.fetch_one(con, "extract/stats", params=params)
    if cfg.event_type_weights:
        found = sqlrun.run(con, "extract/unweighted_types", params).fetchall()
        if found:
            log.warning(
                "extract: extract.event_type_weights names event type(s) %s that no usable "
                "event has: they weigh nothing (a misspelling?)",
                ", ".join(repr(row[0]) for row in found),
            )
    newest = sqlrun.fetch_one(con, "extract/max_ts")["max_input_ts"]
    if recompute is not None:  # an incremental run: keep its results for the next one
        stored = store_results(
            con, export, recompute, params, paths.data_dir, scratch, cfg.memory_limit
        )
        incremental["recompute"]["stored"] = stored
    return stats, newest, incremental


def extract(
    paths: RunPaths,
    cfg: PipelineConfig,
    now: datetime | None = None,
    *,
    source: EventsInput | None = None,
) -> StageReport:
    """Run the extraction SQL on `paths.events`; returns the stage report (details hold
    per-rule counts). `source` is the input already resolved (the cache resolves it)."""
    now = now or datetime.now(UTC)
    ext = cfg.extract
    report = StageReport(name="extract")
    with timed(report):
        source = source or resolve(_events(paths), ext.input_format)
        paths.ensure()
        paths.stage_db.unlink(missing_ok=True)  # a retry starts from a clean stage
        params = sql_params(ext, now, paths.corpus)
        scratch = paths.work_dir / INGEST
        try:  # the warehouse hand-over files only: a failed run keeps just its reports
            with sqlrun.connect(
                paths.stage_db, memory_limit=ext.memory_limit, threads=ext.threads
            ) as con:
                stats, newest, incremental = _run_sql(con, source, paths, ext, params, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        for key in ("cut_ts", "validation_cut_ts"):
            stats[key] = str(stats[key]) if stats[key] is not None else None
        stats["session_length_histogram"] = {
            int(k): int(v) for k, v in (stats["session_length_histogram"] or {}).items()
        }
        report.rows_in, report.rows_out = stats["rows_in"], stats["rows_out"]
        report.details = {
            **stats,
            "source": source.source,
            "format": source.format,
            "fingerprint": source.fingerprint,
            "session_mode": "session_id column" if params["use_session_ref"] else "gap",
            "corpus_sha256": _sha256(paths.corpus),
            "incremental": incremental,
            # for the extract cache: was any row cut by the clock-dependent future bound?
            "max_input_ts": None if newest is None else str(newest),
            "future_bound": str(params["max_ts"]),
        }
    _write_report(paths, report)
    return report


def _events(paths: RunPaths) -> str:
    """The run's events argument; the default data set (fetched once) when none is given."""
    return paths.events or str(ml100k_events(paths.data_dir))


def _write_report(paths: RunPaths, report: StageReport) -> None:
    (paths.out / EXTRACT_REPORT).write_text(json.dumps(report.model_dump(), indent=2, default=str))


def extract_cached(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    """`extract`, reusing a cached extraction of the same input bytes and settings
    (`ops.extract_cache` entries)."""
    started = time.perf_counter()
    keep = cfg.ops.extract_cache
    source = resolve(_events(paths), cfg.extract.input_format)
    # An incremental stage depends on the warehouse, not only on this input: never cached.
    cacheable = keep > 0 and not cfg.extract.incremental
    key = cache.cache_key(source, cfg.extract) if cacheable else None
    if key is not None:
        _, bound = cfg.extract.time_bounds(datetime.now(UTC))
        hit = cache.restore(key, paths, bound)
        if hit is not None:
            hit.details["extract_seconds_when_cached"] = hit.seconds
            hit.seconds = time.perf_counter() - started  # this run's cost: hash + copy
            _write_report(paths, hit)
            logger().info(
                "extract: reused the extraction of %s (%s)", source.source, hit.details["cache"]
            )
            return hit
    report = extract(paths, cfg, source=source)
    if key is not None and cache.store(key, paths, report, keep):
        report.details["cache"] = f"stored {key[:12]}"
        _write_report(paths, report)
    return report


@task(
    name="extract",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def extract_task(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    # The run's other input, evaluate's attributes file, is read once now: a bad one
    # stops the run here (exit 2), not after training.
    check_attributes(cfg.evaluate.item_attributes)
    report = extract_cached(paths, cfg)
    report_artifact(report)
    return report
