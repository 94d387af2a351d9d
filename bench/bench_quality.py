"""Quality stage cost vs the naive GX reference, on synthetic events.

Ours: `recsys.tasks.quality.quality` (DuckDB aggregates over every row + GX on one-row
frames, all four checkpoints' worth of rules). Reference: the raw-library way, pulling the
typed rows into pandas and letting GX 1.x validate four row-level expectations (non-null
ids, timestamps in range, known event types) over the whole frame. The ratio is reference
seconds / ours; peak memory is not compared (the reference also holds every row in pandas).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _reference(stage_db: Path, low, high) -> float:
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from recsys import sqlrun

    start = time.perf_counter()
    with sqlrun.connect(stage_db, read_only=True) as con:
        frame = con.execute("select user_id, item_id, ts, event_type from typed_events").df()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        ctx.data_sources.add_pandas("ref")
        .add_dataframe_asset("rows")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = gx.ExpectationSuite(
        name="ref",
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="item_id"),
            gxe.ExpectColumnValuesToBeBetween(column="ts", min_value=low, max_value=high),
            gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=["click", "view"]),
        ],
    )
    result = batch.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    assert result.success, "the reference must validate the same clean data"
    return time.perf_counter() - start


def main(quick: bool = False) -> list[dict]:
    """One row per size: seconds of ours and of the reference, and their ratio."""
    from recsys.config import PipelineConfig
    from recsys.data.synthetic import generate, write
    from recsys.layout import RunPaths
    from recsys.tasks.extract import extract
    from recsys.tasks.quality import quality

    # Synthetic sessions are hours apart, so millions of events span centuries: judge
    # "future" against a far-away now.
    now = datetime(2400, 1, 1, tzinfo=UTC)
    cfg = PipelineConfig.model_validate({"quality": {"data_docs": False}})
    rows = []
    for n in (200_000,) if quick else (200_000, 2_000_000):
        with tempfile.TemporaryDirectory() as tmp:
            events = write(generate(n, 5_000, seed=1), Path(tmp) / "events.parquet")
            paths = RunPaths.new(Path(tmp) / "data", str(events))
            extract(paths, cfg, now=now)
            quality(paths, cfg, now=now)  # warm GX imports
            start = time.perf_counter()
            report = quality(paths, cfg, now=now)
            ours = time.perf_counter() - start
            low, high = cfg.extract.time_bounds(now)
            ref = _reference(paths.stage_db, low, high)
        rows.append(
            {
                "events": n,
                "expectations": report.details["expectations"],
                "ours_s": ours,
                "gx_pandas_4_rules_s": ref,
                "speedup": ref / ours,
            }
        )
    return rows
