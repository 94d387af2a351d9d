"""Hyperparameter search: `recsys tune` writes DATA_DIR/tuned.yaml for later runs.

    extract + quality (as the pipeline) -> validation stage -> trials (parallel) -> tuned.yaml

The validation stage is the run's *training period* split again by time: trials train on
its first part and are scored on its tail, so the test split the gate later reads is never
used to choose hyperparameters. Trials are Prefect tasks: on threads in this process by
default, or on a Dask cluster (`--task-runner dask`: a LocalCluster or `ops.dask_address`).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import PipelineConfig, TrainConfig
from recsys.datasets import ml100k_events
from recsys.layout import RunPaths, new_run_id
from recsys.notify import notify_hook
from recsys.stage import in_prefect_run, logger, retry_unless_deterministic
from recsys.tasks.extract import extract, sql_params
from recsys.tasks.quality import quality
from recsys.tuning import TuneSetup, run_trial, suggest, svg_plot, write_tuned

TUNED = "tuned.yaml"


def build_validation_stage(paths: RunPaths, cfg: PipelineConfig) -> TuneSetup:
    """Split the training period by time into validation-train / validation-holdout."""
    train_period = paths.work_dir / "train_period.parquet"
    stage = paths.work_dir / "validation.duckdb"
    corpus = paths.work_dir / "validation_corpus.txt"
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        sqlrun.run(con, "tune_train_period", {"path": str(train_period)})
    stage.unlink(missing_ok=True)
    params = sql_params(cfg.extract, cfg.quality, datetime.now(UTC), corpus)
    params |= {
        "test_fraction": cfg.tune.validation_fraction,
        "validation_fraction": 0.0,
        "test_start": None,
        "validation_start": None,
    }
    with sqlrun.connect(stage, memory_limit=cfg.extract.memory_limit) as con:
        sqlrun.run(con, "tune_load_train_period", {"path": str(train_period)})
        for step in ("extract_split", "extract_items", "extract_corpus"):
            sqlrun.run(con, step, params)
        vocab = sqlrun.run(con, "tune_vocab").fetchall()
        sample = sample_counts = None
        if cfg.tune.sample_fraction < 1:
            per_mille = max(1, round(cfg.tune.sample_fraction * 1000))
            sample = paths.work_dir / "validation_sample.txt"
            sqlrun.run(con, "tune_sample_corpus", {"per_mille": per_mille, "path": str(sample)})
            rows = sqlrun.run(con, "tune_sample_counts", {"per_mille": per_mille}).fetchall()
            sample_counts = {token: int(n) for token, n in rows}
    train_period.unlink(missing_ok=True)
    return TuneSetup(
        stage_db=stage,
        corpus=corpus,
        sample_corpus=sample,
        sample_counts=sample_counts,
        counts={token: int(n) for token, _, n in vocab},
        item_of={token: item for token, item, _ in vocab},
        ks=sorted({*cfg.evaluate.ks, int(cfg.tune.metric.split("@")[1])}),
    )


@task(
    name="prepare-validation",
    retries=1,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def prepare_task(events: str | None, paths: RunPaths, cfg: PipelineConfig) -> TuneSetup:
    source = events or str(ml100k_events(paths.data_dir.parent))
    paths.ensure()
    extract(source, paths, cfg.extract, cfg.quality)
    quality(paths, cfg.quality, cfg.extract)
    return build_validation_stage(paths, cfg)


@task(name="trial", cache_policy=NONE, task_run_name="trial-{number}")
def trial_task(
    number: int, params: dict[str, Any], setup: TuneSetup, base: TrainConfig, full: bool = False
) -> dict[str, Any]:
    return {"trial": number, **run_trial(params, setup, base, full=full)}


def _current_params(cfg: PipelineConfig) -> dict[str, Any]:
    knobs = ("sg", "window", "negative", "ns_exponent", "sample", "epochs", "vector_size")
    params = {k: getattr(cfg.train, k) for k in (*knobs, "alpha", "shrink_windows")}
    return params | {"scoring": cfg.export.scoring}


@flow(
    name="item2vec-tune",
    validate_parameters=True,
    on_completion=[notify_hook],
    on_failure=[notify_hook],
)
def tune(
    events: str | None = None,
    data_dir: str = "data",
    config: PipelineConfig = PipelineConfig(),
) -> dict:
    """Search training/export settings on a validation split; write DATA_DIR/tuned.yaml.

    Parameters
    ----------
    events
        Events file, glob or URL; None uses MovieLens-100K.
    data_dir
        The data directory whose `tuned.yaml` later `recsys run` calls start from.
    config
        Base configuration; `config.tune` holds the budget, sampler and task runner.
    """
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    cfg, log, start = config, logger(), time.perf_counter()
    paths = RunPaths(data_dir=Path(data_dir).resolve() / "tune", run_id=new_run_id())
    setup = prepare_task(events, paths, cfg)
    metric = cfg.tune.metric
    sampler = (
        optuna.samplers.TPESampler(seed=cfg.tune.seed)
        if cfg.tune.sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=cfg.tune.seed)
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(_current_params(cfg))  # the tuned result is never worse than this
    results: list[dict[str, Any]] = []
    deadline = start + (cfg.tune.timeout_seconds or float("inf"))
    while len(results) < cfg.tune.trials and time.perf_counter() < deadline:
        batch = [study.ask() for _ in range(min(cfg.tune.parallel, cfg.tune.trials - len(results)))]
        futures = [trial_task.submit(t.number, suggest(t), setup, cfg.train) for t in batch]
        for trial, future in zip(batch, futures, strict=True):
            result = future.result()
            study.tell(trial, result["metrics"][metric])
            results.append(result)
        log.info(
            "tune: %d/%d trials, best %s %.4f",
            len(results),
            cfg.tune.trials,
            metric,
            study.best_value,
        )
    best = max(results, key=lambda r: r["metrics"][metric])
    if best["sampled"]:
        best = trial_task(best["trial"], best["params"], setup, cfg.train, full=True)
    summary = {
        "metric": metric,
        "best_value": round(best["metrics"][metric], 5),
        "default_value": round(results[0]["metrics"][metric], 5),
        "trials": len(results),
        "seconds": round(time.perf_counter() - start, 1),
        "validation_baselines": {
            src: round(m[metric], 5) for src, m in best.get("baselines", {}).items()
        },
    }
    out = Path(data_dir).resolve()
    write_tuned(out / TUNED, best["params"], cfg.train, summary)
    _write_outputs(paths.work_dir, results, metric, summary)
    for name in ("stage.duckdb", "corpus.txt", "validation_corpus.txt", "validation_sample.txt"):
        (paths.work_dir / name).unlink(missing_ok=True)
    log.info(
        "tune: best %s %.4f (defaults %.4f) -> %s",
        metric,
        summary["best_value"],
        summary["default_value"],
        out / TUNED,
    )
    return {"tuned": str(out / TUNED), "best": best, "summary": summary}


def _write_outputs(folder: Path, results: list[dict], metric: str, summary: dict) -> None:
    values = [r["metrics"][metric] for r in results]
    best_so_far = [max(values[: i + 1]) for i in range(len(values))]
    (folder / "trials.json").write_text(
        json.dumps({"summary": summary, "trials": results}, indent=1)
    )
    (folder / "trials.svg").write_text(svg_plot(values, best_so_far, metric))
    if not in_prefect_run():
        return
    from prefect.artifacts import create_link_artifact, create_table_artifact

    table = [
        {"trial": r["trial"], metric: round(r["metrics"][metric], 4), "seconds": r["seconds"]}
        | r["params"]
        for r in results
    ]
    create_table_artifact(table=table, key="recsys-tune-trials", description="all trials")
    create_link_artifact(
        link=f"file://{folder / 'trials.svg'}",
        link_text=f"{metric} per trial (plot)",
        key="recsys-tune-plot",
        description=json.dumps(summary),
    )
