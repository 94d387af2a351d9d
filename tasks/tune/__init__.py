"""Tune: the tasks of a hyperparameter search (flows/tune.py wires them).

prepare  extract + quality as the pipeline, then the validation stage
trial    one configuration trained and scored (fans out over the task runner)
finish   tuned.yaml, trials.json, the plot and artifacts; scratch files removed

validation.py   the validation split of the training period (TuneSetup)
space.py        the search space and the study
trial.py        one trial: train, then score with the evaluate stage's code
outputs.py      tuned.yaml, trials.json, the plot, artifacts
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from recsys.config import PipelineConfig, TrainConfig
from recsys.data.movielens import ml100k_events
from recsys.layout import (
    CORPUS,
    STAGE_DB,
    VALIDATION_CORPUS,
    VALIDATION_SAMPLE,
    RunPaths,
    tuned_path,
)
from recsys.stage import logger, retry_unless_deterministic
from recsys.tasks.extract import extract
from recsys.tasks.quality import quality
from recsys.tasks.tune.outputs import search_summary, write_outputs, write_tuned
from recsys.tasks.tune.trial import run_trial
from recsys.tasks.tune.validation import TuneSetup, build_validation_stage


@task(
    name="prepare-validation",
    retries=1,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def prepare_task(paths: RunPaths, cfg: PipelineConfig) -> TuneSetup:
    # A search's own data dir is DATA_DIR/tune: the default data set is the data dir's.
    events = paths.events or str(ml100k_events(paths.data_dir.parent))
    paths = paths.model_copy(update={"events": events}).ensure()
    extract(paths, cfg)
    quality(paths, cfg)
    return build_validation_stage(paths, cfg)


@task(name="trial", cache_policy=NONE, task_run_name="trial-{number}")
def trial_task(
    number: int, params: dict[str, Any], setup: TuneSetup, base: TrainConfig, full: bool = False
) -> dict[str, Any]:
    return {"trial": number, **run_trial(params, setup, base, full=full)}


@task(name="finish-search", cache_policy=NONE)
def finish_task(
    paths: RunPaths, cfg: PipelineConfig, results: list[dict], best: dict, seconds: float
) -> dict[str, Any]:
    """Write DATA_DIR/tuned.yaml and the search's outputs; remove its scratch files."""
    metric = cfg.tune.metric
    summary = search_summary(results, best, metric, seconds)
    tuned = tuned_path(paths.data_dir.parent)  # paths.data_dir is DATA_DIR/tune
    write_tuned(tuned, best["params"], cfg.train, summary)
    write_outputs(paths.work_dir, results, metric, summary)
    for name in (STAGE_DB, CORPUS, VALIDATION_CORPUS, VALIDATION_SAMPLE):
        (paths.work_dir / name).unlink(missing_ok=True)
    logger().info(
        "tune: best %s %.4f (defaults %.4f) -> %s",
        metric,
        summary["best_value"],
        summary["default_value"],
        tuned,
    )
    return {"tuned": str(tuned), "best": best, "summary": summary}
