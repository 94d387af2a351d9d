"""Adopt: take the published model's vectors into this run instead of training.

The hourly refresh (flows/refresh.py) keeps the nightly model and recomputes what depends
on fresh events: user histories (so `user_recs` follow what users did in the last hour),
the evaluation on the newest test split and the gate. Copying three files takes
milliseconds; retraining would take the nightly run's full training time every hour.
The files are checked against the champion's manifest (sha256) before they are used, so a
tampered or half-copied champion is refused rather than republished.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NONE
from pydantic import ValidationError

from recsys import published
from recsys.config import ExportConfig, PipelineConfig, TrainConfig
from recsys.errors import UsageError
from recsys.layout import RunPaths
from recsys.stage import (
    StageReport,
    logger,
    report_artifact,
    retry_unless_deterministic,
    timed,
)
from recsys.vocab import CONTEXT_VECTORS, VECTORS, VOCAB

MODEL_FILES = (VECTORS, CONTEXT_VECTORS, VOCAB)


def champion_run(data_dir) -> Path:
    """The published run's folder; UsageError (exit 2) when nothing is published yet."""
    try:
        return published.current_run(data_dir)
    except Exception as exc:
        raise UsageError(
            f"refresh needs a published model in {data_dir} to reuse ({exc}); "
            "run `recsys run` first"
        ) from exc


def champion_manifest(data_dir) -> dict:
    """The published run's manifest (its files are checked where they are used: `adopt`)."""
    return published.read_manifest(champion_run(data_dir))


def champion_config(manifest: dict) -> dict:
    """The published run's configuration, as a config tree this version accepts.

    A champion published by an older version may name keys that have since moved or gone;
    its training settings and scoring (what describes the vectors) are then kept and the
    rest falls back to today's defaults, with a warning."""
    tree = manifest["config"]
    try:
        PipelineConfig.model_validate(tree)
        return tree
    except ValidationError as exc:
        logger().warning(
            "published config of run %s is from another version (%s); refreshing with "
            "today's defaults and its train/scoring settings",
            manifest["run_id"],
            exc.errors()[0]["msg"],
        )
    return PipelineConfig(
        train=TrainConfig.model_validate(tree["train"]),
        export=ExportConfig(scoring=tree["export"]["scoring"]),
    ).model_dump(mode="json")


def adopt(paths: RunPaths) -> StageReport:
    """Copy the champion's vectors, context vectors and vocabulary into the run folder."""
    report = StageReport(name="adopt")
    with timed(report):
        run = champion_run(paths.data_dir)
        manifest = published.verify(run, hashed=set(MODEL_FILES))
        paths.ensure()
        for name in MODEL_FILES:
            shutil.copyfile(run / name, paths.out / name)
        items = pq.read_metadata(paths.out / VOCAB).num_rows
        report.rows_in = report.rows_out = items
        report.details = {
            "model_run": manifest.get("model_run", manifest["run_id"]),
            "copied_from": run.name,
            "model_created_at": manifest["created_at"],
            "vocabulary": items,
        }
    return report


@task(
    name="adopt",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def adopt_task(paths: RunPaths) -> StageReport:
    report = adopt(paths)
    report_artifact(report)
    return report
