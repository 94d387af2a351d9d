"""Quality: Great Expectations 1.x checkpoints on the raw events and on the sessions.

GX over DuckDB through SQLAlchemy is broken in GX 1.x, and GX on pandas costs seconds per
million rows, so each checkpoint validates one row of exact aggregates computed in DuckDB
(`sql/quality_*_profile.sql`). Failure raises DataQualityError (exit 3) after writing a
markdown report of every expectation; quality failures are never retried.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import ExtractConfig, QualityConfig
from recsys.errors import DataQualityError
from recsys.expectations import events as events_suite
from recsys.expectations import sessions as sessions_suite
from recsys.layout import RunPaths
from recsys.stage import StageReport, report_artifact, timed
from recsys.tasks.extract import time_bounds

REPORT = "quality.md"


def run_checkpoint(name: str, expectations: list, profile: dict) -> list[dict]:
    """Validate `profile` (one row) with a GX checkpoint; one result dict per expectation."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        ctx.data_sources.add_pandas(f"{name}_source")
        .add_dataframe_asset(f"{name}_profile")
        .add_batch_definition_whole_dataframe("profile")
    )
    suite = ctx.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    validation = ctx.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    checkpoint = ctx.checkpoints.add(
        gx.Checkpoint(name=f"{name}_checkpoint", validation_definitions=[validation])
    )
    result = checkpoint.run(batch_parameters={"dataframe": pd.DataFrame([profile])})
    rows = []
    for validation_result in result.run_results.values():
        for r in validation_result.results:
            kwargs = r.expectation_config.kwargs
            observed = r.result.get("observed_value")
            rows.append(
                {
                    "checkpoint": name,
                    "rule": r.expectation_config.meta.get("rule", r.expectation_config.type),
                    "expectation": r.expectation_config.type,
                    "column": kwargs.get("column"),
                    "observed": observed.item() if hasattr(observed, "item") else observed,
                    "passed": bool(r.success),
                }
            )
    # Checkpoint.run() does not raise on failure; the caller reads `passed`.
    if len(rows) != len(expectations):
        raise RuntimeError(f"GX returned {len(rows)} results for {len(expectations)} checks")
    return rows


def markdown(results: list[dict]) -> str:
    lines = ["| checkpoint | rule | observed | verdict |", "|---|---|---:|---|"]
    for r in results:
        verdict = "pass" if r["passed"] else "**FAIL**"
        lines.append(f"| {r['checkpoint']} | {r['rule']} | {r['observed']} | {verdict} |")
    return "\n".join(lines)


def quality(
    paths: RunPaths, cfg: QualityConfig, extract: ExtractConfig, now: datetime | None = None
) -> StageReport:
    """Run both checkpoints; DataQualityError names the first failed rule and its count."""
    now = now or datetime.now(UTC)
    report = StageReport(name="quality")
    with timed(report):
        low, high = time_bounds(cfg, now)
        with sqlrun.connect(paths.stage_db, read_only=True) as con:
            raw = sqlrun.fetch_one(
                con, "quality_events_profile", params={"min_ts": low, "max_ts": high}
            )
            sessions = sqlrun.fetch_one(con, "quality_sessions_profile")
        results = run_checkpoint(events_suite.NAME, events_suite.suite(cfg), raw)
        results += run_checkpoint(sessions_suite.NAME, sessions_suite.suite(cfg, extract), sessions)
        failed = [r for r in results if not r["passed"]]
        report.rows_in = int(raw["rows"])
        report.rows_out = int(sessions["events"])
        report.details = {
            "expectations": len(results),
            "failed": len(failed),
            **{k: v for k, v in raw.items() if k != "rows"},
            **sessions,
        }
    text = f"# Data quality, run {paths.run_id}\n\n{markdown(results)}\n"
    (paths.out / REPORT).write_text(text)
    report_artifact(report, "#### Expectations\n\n" + markdown(results))
    if failed:
        first = failed[0]
        raise DataQualityError(
            f"data quality failed: {first['checkpoint']}: {first['rule']} "
            f"(observed {first['observed']}); {len(failed)} of {len(results)} "
            f"expectations failed, see {REPORT}"
        )
    return report


@task(name="quality", retries=0, cache_policy=NONE)
def quality_task(paths: RunPaths, cfg: QualityConfig, extract: ExtractConfig) -> StageReport:
    return quality(paths, cfg, extract)
