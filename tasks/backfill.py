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
from datetime import UTC, datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import ExtractConfig, QualityConfig
from recsys.errors import UsageError
from recsys.inputs import resolve
from recsys.layout import new_run_id
from recsys.stage import StageReport, logger, report_artifact, retry_unless_deterministic, timed
from recsys.tasks.extract import sql_params
from recsys.tasks.warehouse import ingest


def _naive_utc(value: datetime) -> datetime:
    # Warehouse times are naive UTC; a zoned bound is converted, a naive one is UTC.
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def backfill(
    events: str,
    data_dir: Path,
    start: datetime,
    end: datetime,
    cfg: ExtractConfig,
    quality: QualityConfig,
) -> StageReport:
    """Replace the warehouse events in [start, end) with those read from `events`.

    Parameters
    ----------
    events
        File, glob, directory or URL covering the range (see CONTRACT.md).
    data_dir
        The data directory whose `warehouse.duckdb` is rebuilt.
    start, end
        The range, start included, end excluded (UTC when naive).
    cfg, quality
        Extract settings (reader, column mapping, typing) and the sane-time bounds.

    Returns
    -------
    A report whose details hold the ingest counts and the new watermark.
    """
    start, end = _naive_utc(start), _naive_utc(end)
    if start >= end:
        raise UsageError(f"backfill: start {start} must be before end {end}")
    report = StageReport(name="backfill")
    data_dir = Path(data_dir).resolve()
    scratch = data_dir / "work" / f"backfill-{new_run_id()}"
    with timed(report):
        source = resolve(events, cfg.input_format)
        params = sql_params(cfg, quality, datetime.now(UTC), scratch / "unused")
        logger().info("backfill: %s for [%s, %s)", source.source, start, end)
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            db = scratch / "scratch.duckdb"
            with sqlrun.connect(db, memory_limit=cfg.memory_limit) as con:
                window = (start, end)
                ingested, _ = ingest(
                    con, source, data_dir, scratch, cfg, params, window, export=False
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
    events: str,
    data_dir: Path,
    start: datetime,
    end: datetime,
    cfg: ExtractConfig,
    quality: QualityConfig,
) -> StageReport:
    report = backfill(events, data_dir, start, end, cfg, quality)
    report_artifact(report)
    return report
