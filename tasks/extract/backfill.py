"""Backfill: rebuild one date range of the events warehouse from the given input.

Every warehouse event with a time in [start, end) is deleted and the rows in that range are
read again from every input file (files never ingested before are read whole, as an
incremental run would). Rows outside the range are left as they are, so the input only has
to cover the range: e.g. the re-delivered partitions of the days being corrected, or all
partitions after a change to the typing rules (`extract.timestamp_unit`, column mapping).
The next `extract.incremental` run then rebuilds the stage from the corrected warehouse.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import PipelineConfig
from recsys.data.movielens import ml100k_events
from recsys.errors import UsageError
from recsys.inputs import resolve
from recsys.layout import SCRATCH_DB, RunPaths
from recsys.stage import StageReport, logger, report_artifact, retry_unless_deterministic, timed
from recsys.tasks.extract.ingest import ingest
from recsys.tasks.extract.params import sql_params


def _naive_utc(value: datetime) -> datetime:
    # Warehouse times are naive UTC; a zoned bound is converted, a naive one is UTC.
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def backfill_range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) as naive UTC; both None: yesterday (UTC)."""
    if start is None and end is None:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start, end = today - timedelta(days=1), today
    elif start is None or end is None:
        raise UsageError("backfill: give both start and end, or neither (yesterday)")
    start, end = _naive_utc(start), _naive_utc(end)
    if start >= end:
        raise UsageError(f"backfill: start {start} must be before end {end}")
    return start, end


def backfill(
    paths: RunPaths,
    cfg: PipelineConfig,
    start: datetime | None = None,
    end: datetime | None = None,
    allow_empty: bool = False,
) -> StageReport:
    """Replace the warehouse events in [start, end) with those read from `paths.events`.

    Parameters
    ----------
    paths
        The data directory whose `warehouse.duckdb` is rebuilt, the events (file, glob,
        directory or URL covering the range; None: MovieLens-100K) and a work folder for
        the scratch files.
    cfg
        Extract settings (reader, column mapping, typing, sane-time bounds).
    start, end
        The range, start included, end excluded (UTC when naive). Both None: yesterday.
    allow_empty
        Empty the range when the input holds none of its events (otherwise refused with
        DataQualityError: a header-only or wrong delivery must not erase stored days).

    Returns
    -------
    A report whose details hold the ingest counts and the new watermark.
    """
    start, end = backfill_range(start, end)
    report = StageReport(name="backfill")
    scratch = paths.work_dir
    with timed(report):
        events = paths.events or str(ml100k_events(paths.data_dir))
        source = resolve(events, cfg.extract.input_format)
        params = sql_params(cfg.extract, datetime.now(UTC), scratch / "unused")
        logger().info("backfill: %s for [%s, %s)", source.source, start, end)
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            db = scratch / SCRATCH_DB
            with sqlrun.connect(db, memory_limit=cfg.extract.memory_limit) as con:
                ingested, _ = ingest(
                    con,
                    source,
                    paths.data_dir,
                    scratch,
                    cfg.extract,
                    params,
                    (start, end),
                    export=False,
                    allow_empty=allow_empty,
                )
        finally:  # scratch files only; the warehouse transaction committed or rolled back
            shutil.rmtree(scratch, ignore_errors=True)
        report.rows_in = ingested.rows_ingested
        report.rows_out = ingested.warehouse_rows
        report.details = {"start": str(start), "end": str(end), **ingested.model_dump()}
    return report


@task(
    name="backfill",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def backfill_task(
    paths: RunPaths,
    cfg: PipelineConfig,
    start: datetime | None,
    end: datetime | None,
    allow_empty: bool = False,
) -> StageReport:
    report = backfill(paths, cfg, start, end, allow_empty)
    report_artifact(report)
    return report
