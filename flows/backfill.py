"""Backfill flow: rebuild a date range of the events warehouse, then optionally run the
pipeline incrementally on it (docs/extract.md, "Incremental runs and backfill").

    backfill(range) -> [pipeline(extract.incremental=true)]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow

from recsys.config import PipelineConfig
from recsys.datasets import ml100k_events
from recsys.errors import UsageError
from recsys.flows.pipeline import pipeline
from recsys.notify import notify_hook
from recsys.tasks.backfill import backfill_task


def _yesterday() -> tuple[datetime, datetime]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1), today


@flow(
    name="item2vec-backfill",
    validate_parameters=True,
    on_completion=[notify_hook],
    on_failure=[notify_hook],
)
def backfill(
    events: str | None = None,
    data_dir: str = "data",
    start: datetime | None = None,
    end: datetime | None = None,
    run_pipeline: bool = False,
    config: PipelineConfig = PipelineConfig(),
) -> dict:
    """Replace the warehouse events in [start, end) with those read from `events`.

    Parameters
    ----------
    events
        File, glob, directory or URL covering the range; None uses MovieLens-100K.
    data_dir
        The data directory holding `warehouse.duckdb`.
    start, end
        The range (end excluded; UTC when naive). Both None: yesterday (UTC).
    run_pipeline
        Afterwards run the whole pipeline with `extract.incremental=true` on `events`.
    config
        The pipeline configuration (extract settings are used for reading).
    """
    if start is None and end is None:
        start, end = _yesterday()
    elif start is None or end is None:
        raise UsageError("backfill: give both start and end, or neither (yesterday)")
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    if events is None:
        events = str(ml100k_events(path.resolve()))
    report = backfill_task(events, path, start, end, config.extract, config.quality)
    result: dict = {"backfill": report.model_dump()}
    if run_pipeline:
        cfg = config.model_copy(
            update={"extract": config.extract.model_copy(update={"incremental": True})}
        )
        result["pipeline"] = pipeline(events=events, data_dir=data_dir, config=cfg)
    return result
