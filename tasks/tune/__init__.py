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

from recsys.config import PipelineConfig
from recsys.data.movielens import ml100k_events
from recsys.layout import (
    BASELINE_LISTS,
    CORPUS,
    STAGE_DB,
    VALIDATION_CORPUS,
    VALIDATION_DB,
    VALIDATION_SAMPLE,
    RunPaths,
    tuned_path,
)
from recsys.stage import logger, retry_unless_deterministic
from recsys.tasks.evaluate import list_depth
from recsys.tasks.evaluate.hits import open_cases
from recsys.tasks.extract import extract
from recsys.tasks.quality import quality
from recsys.tasks.tune.baselines import tune_baselines
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
    setup = build_validation_stage(paths, cfg)
    lists = paths.work_dir / BASELINE_LISTS
    with open_cases(setup.stage_db, setup.session_cases) as con:
        tuned = tune_baselines(con, cfg.evaluate, list_depth(cfg.evaluate), cfg.tune.metric, lists)
    logger().info(
        "tune: baselines %s; count channel %s",
        tuned["baselines"].model_dump(),
        tuned["count_channel"],
    )
    return setup.model_copy(
        update={
            "lists_path": lists,
            "count_channel": tuned["count_channel"],
            "baselines": tuned["baselines"].model_dump(),
            "item_baselines": tuned["item"],
            "session_baselines": tuned["session"],
        }
    )


@task(name="trial", cache_policy=NONE, task_run_name="trial-{number}")
def trial_task(
    number: int,
    params: dict[str, Any],
    setup: TuneSetup,
    cfg: PipelineConfig,
    full: bool = False,
    deadline: float | None = None,
) -> dict[str, Any]:
    return {"trial": number, **run_trial(params, setup, cfg, full=full, deadline=deadline)}


@task(name="finish-search", cache_policy=NONE)
def finish_task(
    paths: RunPaths,
    cfg: PipelineConfig,
    setup: TuneSetup,
    results: list[dict],
    best: dict,
    seconds: float,
) -> dict[str, Any]:
    """Write DATA_DIR/tuned.yaml and the search's outputs; remove its scratch files."""
    summary = search_summary(results, best, setup, cfg, seconds)
    tuned = tuned_path(paths.data_dir.parent)  # paths.data_dir is DATA_DIR/tune
    write_tuned(tuned, best, setup, summary)
    write_outputs(paths.work_dir, results, summary)
    scratch = (STAGE_DB, CORPUS, VALIDATION_DB, VALIDATION_CORPUS, VALIDATION_SAMPLE)
    for name in (*scratch, BASELINE_LISTS):
        (paths.work_dir / name).unlink(missing_ok=True)
    logger().info(
        "tune: best %.4f x the strongest baselines (defaults %.4f) -> %s",
        summary["best_value"],
        summary["default_value"],
        tuned,
    )
    return {"tuned": str(tuned), "best": best, "summary": summary}
