"""Extract: events file -> typed, cleaned, sessionized events and a gensim corpus (DuckDB).

Everything runs as SQL files in `sql/` against the run's own DuckDB file; nothing is pulled
into pandas. Outputs: `stage.duckdb` tables `typed_events`, `events`, `items`, the corpus
file (one session per line), and `extract.json` in the run folder. With
`extract.incremental` the input is first merged into the events warehouse
(`tasks/warehouse.py`) and the stage is rebuilt from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import ExtractConfig, OpsConfig, QualityConfig
from recsys.datasets import ml100k_events
from recsys.inputs import EventsInput, resolve
from recsys.layout import RunPaths
from recsys.stage import StageReport, logger, report_artifact, retry_unless_deterministic, timed
from recsys.tasks.extract_affected import build_rows, store_results
from recsys.tasks.extract_read import column_slots, drop_source, read_source, scan_errors
from recsys.tasks.warehouse import ingest


def time_bounds(quality: QualityConfig, now: datetime) -> tuple[datetime, datetime]:
    """Oldest and newest timestamps treated as real (naive UTC, as DuckDB returns them)."""
    low = datetime(quality.min_year, 1, 1)
    high = (now + timedelta(hours=quality.future_tolerance_hours)).replace(tzinfo=None)
    return low, high


def sql_params(
    cfg: ExtractConfig, quality: QualityConfig, now: datetime, corpus: Path
) -> dict[str, object]:
    """Values bound into the extract SQL files (one place, also used by tuning)."""
    low, high = time_bounds(quality, now)
    return {
        "timestamp_unit": cfg.timestamp_unit,
        "min_ts": low,
        "max_ts": high,
        "event_types": cfg.event_types,
        "gap_seconds": cfg.session_gap_minutes * 60.0,
        "collapse_repeats": cfg.collapse_repeats,
        "test_fraction": cfg.test_fraction,
        "validation_fraction": cfg.validation_fraction,
        "test_start": cfg.test_start,
        "validation_start": cfg.validation_start,
        "weight_types": list(cfg.event_type_weights) or None,
        "weight_values": list(cfg.event_type_weights.values()) or None,
        "dedup_seconds": cfg.duplicate_window_seconds,
        "max_user_events": cfg.max_user_events,
        "max_events_per_minute": cfg.max_events_per_minute,
        "min_item_count": cfg.min_item_count,
        "min_user_events": cfg.min_user_events,
        "max_session_length": cfg.max_session_length,
        "min_session_length": cfg.min_session_length,
        "path": str(corpus),
    }


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
    steps = ["extract_valid_view", "extract_sessions_view"]
    steps += ["extract_split", "extract_items", "extract_corpus"]
    export = recompute = None
    lazy = False  # source_rows is a view over the input files (read_source)
    if cfg.incremental:
        log.info("extract: ingesting %s into the warehouse", source.source)
        ingested, export = ingest(con, source, paths.data_dir, scratch, cfg, params)
        params["use_session_ref"] = ingested.session_ref
        incremental = ingested.model_dump()
    else:
        log.info("extract: reading %s (%s)", source.source, source.format)
        # Parquet is read by extract_rows itself (no copy of the input first).
        lazy = read_source(con, source, cfg.csv_delimiter, lazy=True)
        slots = column_slots(con, cfg, source.source)
        params["use_session_ref"] = slots["session_id"] is not None
        sqlrun.run(con, "extract_typed", params, idents=slots)
        sqlrun.run(con, "extract_prior_none")
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
        # extract_rows is where a lazily read input's rows are first read
        with scan_errors(con, source, cfg.csv_delimiter) if lazy else contextlib.nullcontext():
            sqlrun.run(con, "extract_rows", params)
    drop_source(con)  # the input (copy or view) is no longer needed
    con.execute("drop view if exists warehouse_rows")
    for done, step in enumerate(steps, start=1):
        sqlrun.run(con, step, params)
        log.info("extract: %s done (%d/%d)", step, done, len(steps))
    stats = sqlrun.fetch_one(con, "extract_stats", params=params)
    newest = sqlrun.fetch_one(con, "extract_max_ts")["max_input_ts"]
    if recompute is not None:  # an incremental run: keep its results for the next one
        stored = store_results(
            con, export, recompute, params, paths.data_dir, scratch, cfg.memory_limit
        )
        incremental["recompute"]["stored"] = stored
    return stats, newest, incremental


def extract(
    events: str | EventsInput,
    paths: RunPaths,
    cfg: ExtractConfig,
    quality: QualityConfig,
    now: datetime | None = None,
) -> StageReport:
    """Run the extraction SQL; returns the stage report (details hold per-rule counts)."""
    now = now or datetime.now(UTC)
    report = StageReport(name="extract")
    with timed(report):
        source = events if isinstance(events, EventsInput) else resolve(events, cfg.input_format)
        paths.ensure()
        paths.stage_db.unlink(missing_ok=True)  # a retry starts from a clean stage
        params = sql_params(cfg, quality, now, paths.corpus)
        scratch = paths.work_dir / "ingest"
        try:  # the warehouse hand-over files only: a failed run keeps just its reports
            with sqlrun.connect(
                paths.stage_db, memory_limit=cfg.memory_limit, threads=cfg.threads
            ) as con:
                stats, newest, incremental = _run_sql(con, source, paths, cfg, params, scratch)
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
    (paths.out / "extract.json").write_text(json.dumps(report.model_dump(), indent=2, default=str))
    return report


@task(
    name="extract",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def extract_task(
    events: str | None,
    paths: RunPaths,
    cfg: ExtractConfig,
    quality: QualityConfig,
    ops: OpsConfig | None = None,
) -> StageReport:
    if events is None:
        events = str(ml100k_events(paths.data_dir))
    report = extract_cached(events, paths, cfg, quality, (ops or OpsConfig()).extract_cache)
    report_artifact(report)
    return report


def extract_cached(
    events: str, paths: RunPaths, cfg: ExtractConfig, quality: QualityConfig, keep: int
) -> StageReport:
    """`extract`, reusing a cached extraction of the same input bytes and settings."""
    from recsys import extract_cache

    started = time.perf_counter()
    source = resolve(events, cfg.input_format)
    # An incremental stage depends on the warehouse, not only on this input: never cached.
    cacheable = keep > 0 and not cfg.incremental
    key = extract_cache.cache_key(source, cfg, quality) if cacheable else None
    if key is not None:
        _, bound = time_bounds(quality, datetime.now(UTC))
        hit = extract_cache.restore(key, paths, bound)
        if hit is not None:
            hit.details["extract_seconds_when_cached"] = hit.seconds
            hit.seconds = time.perf_counter() - started  # this run's cost: hash + copy
            (paths.out / "extract.json").write_text(
                json.dumps(hit.model_dump(), indent=2, default=str)
            )
            logger().info("extract: reused the extraction of %s (%s)", events, hit.details["cache"])
            return hit
    report = extract(source, paths, cfg, quality)
    if key is not None and extract_cache.store(key, paths, report, keep):
        report.details["cache"] = f"stored {key[:12]}"
        (paths.out / "extract.json").write_text(
            json.dumps(report.model_dump(), indent=2, default=str)
        )
    return report
