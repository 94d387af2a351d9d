"""Backfill flow: rebuild a date range of the events warehouse, then optionally run the
pipeline incrementally on it (docs/extract.md, "Incremental runs and backfill").

    backfill(range) -> [pipeline(extract.incremental=true)]
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from recsys.config import PipelineConfig, resolve_config, with_keys
from recsys.flows.pipeline import pipeline
from recsys.layout import RunPaths
from recsys.ops import signals
from recsys.ops.notify import notify_hook
from recsys.stage import quiet_expected_failures
from recsys.tasks.extract.backfill import backfill_task


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
    config: PipelineConfig | None = None,
    allow_empty: bool = False,
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
        The keys to set (extract settings are used for reading); the rest comes from
        DATA_DIR/tuned.yaml, if present, and the defaults.
    allow_empty
        Empty the range when `events` holds none of its rows; without it such a backfill
        is refused (a header-only or wrong delivery would erase the stored days).
    """
    quiet_expected_failures()
    signals.watch()
    cfg = resolve_config(config, data_dir=data_dir)
    report = backfill_task(RunPaths.new(data_dir, events), cfg, start, end, allow_empty)
    result: dict = {"backfill": report.model_dump()}
    if run_pipeline:
        incremental = with_keys(config, {"extract": {"incremental": True}})
        result["pipeline"] = pipeline(events=events, data_dir=data_dir, config=incremental)
    return result


# `python flows/backfill.py`: one run with the defaults (MovieLens-100K, data dir ./data), on
# the API in PREFECT_API_URL or a temporary one: local development the Prefect way.
if __name__ == "__main__":
    backfill()
