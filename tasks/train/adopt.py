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

from recsys.config import PipelineConfig, migrate_config
from recsys.errors import UsageError
from recsys.layout import EVALUATED_FILES, MODEL_FILES, VOCAB, RunPaths
from recsys.model import store
from recsys.stage import (
    StageReport,
    report_artifact,
    retry_unless_deterministic,
    timed,
)


def champion_run(data_dir) -> Path:
    """The published run's folder; UsageError (exit 2) when nothing is published yet."""
    try:
        return store.current_run(data_dir)
    except Exception as exc:
        # exc already says what to do when nothing is published ("run `recsys run` first")
        raise UsageError(f"refresh needs a published model to reuse: {exc}") from exc


def champion_manifest(data_dir) -> dict:
    """The published run's manifest (its files are checked where they are used: `adopt`)."""
    return store.read_manifest(champion_run(data_dir))


def champion_config(manifest: dict) -> dict:
    """The published run's configuration as a config tree this version accepts (keys that
    moved since it was published are carried to their new place)."""
    return migrate_config(manifest["config"])


def adopt(paths: RunPaths) -> StageReport:
    """Copy the champion's vectors, context vectors and vocabulary into the run folder, and
    the model its gate evaluated (`evaluated_*`, which this run's evaluation scores: the
    served, refit model may have seen this run's held-out events)."""
    report = StageReport(name="adopt")
    with timed(report):
        run = champion_run(paths.data_dir)
        files = [name for name in (*MODEL_FILES, *EVALUATED_FILES) if (run / name).is_file()]
        manifest = store.verify(run, hashed=set(files))
        paths.ensure()
        for name in files:
            shutil.copyfile(run / name, paths.out / name)
        items = pq.read_metadata(paths.out / VOCAB).num_rows
        report.rows_in = report.rows_out = items
        report.details = {
            "model_run": manifest["model_run"],
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
def adopt_task(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    # `cfg` keeps the stage tasks' one signature: the model's settings are the champion's.
    report = adopt(paths)
    report_artifact(report)
    return report
