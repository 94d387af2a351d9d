"""Hyperparameter search: `recsys tune` writes DATA_DIR/tuned.yaml for later runs.

    prepare (extract + quality, validation stage) -> trials (parallel) -> finish (tuned.yaml)

Trials are Prefect tasks: on threads in this process by default, or on a Dask cluster
(`--task-runner dask`: a LocalCluster or `ops.dask_address`). The search starts from the
defaults, not from an earlier tuned.yaml: its first trial is the configuration it is
compared with (tasks/tune/).
"""

from __future__ import annotations

import time

from prefect import flow

from recsys.config import PipelineConfig, resolve_config
from recsys.layout import RunPaths, tune_dir
from recsys.ops import signals
from recsys.ops.notify import notify_hook
from recsys.stage import logger, quiet_expected_failures
from recsys.tasks.rundir import scratch_run
from recsys.tasks.tune import finish_task, prepare_task, trial_task
from recsys.tasks.tune.space import new_study, space_for, suggest


@flow(
    name="item2vec-tune",
    validate_parameters=True,
    on_completion=[notify_hook],
    on_failure=[notify_hook],
)
def tune(
    events: str | None = None,
    data_dir: str = "data",
    config: PipelineConfig | None = None,
) -> dict:
    """Search training/export settings on a validation split; write DATA_DIR/tuned.yaml.

    Parameters
    ----------
    events
        Events file, glob or URL; None uses MovieLens-100K.
    data_dir
        The data directory whose `tuned.yaml` later `recsys run` calls start from.
    config
        The keys to set over the defaults; `config.tune` holds the budget and sampler,
        `config.ops` the task runner.
    """
    quiet_expected_failures()
    signals.watch()
    # Trial 0 is what `recsys run` would use now (tuned.yaml included): a new search never
    # ends below the configuration it replaces, on its own validation split.
    # A broken tuned.yaml is what this search replaces: it starts from the defaults instead.
    cfg = resolve_config(config, data_dir=data_dir, on_bad_tuned=_skip_bad_tuned)
    start = time.perf_counter()
    paths = RunPaths.new(tune_dir(data_dir), events)
    with scratch_run(paths):
        setup = prepare_task(paths, cfg)
        budget = cfg.tune.trials
        study = new_study(cfg)
        choices = space_for(cfg)
        results: list[dict] = []
        # Trials stop at their next epoch past the deadline (the first one always finishes, so
        # the defaults are always scored).
        deadline = time.time() + (cfg.tune.timeout_seconds or float("inf"))
        while len(results) < budget and (not results or time.time() < deadline):
            batch = [study.ask() for _ in range(min(cfg.tune.parallel, budget - len(results)))]
            limit = None if not results else deadline
            futures = [
                trial_task.submit(t.number, suggest(t, choices), setup, cfg, deadline=limit)
                for t in batch
            ]
            for trial, future in zip(batch, futures, strict=True):
                result = future.result()
                study.tell(trial, result["value"])
                results.append(result)
            logger().info(
                "tune: %d/%d trials, best %.4f x the strongest baselines",
                len(results),
                budget,
                study.best_value,
            )
        best = max(results, key=lambda r: r["value"])
        if best["sampled"]:  # trained on a sample of sessions: re-scored on all of them
            best = trial_task(best["trial"], best["params"], setup, cfg, full=True)
        return finish_task(paths, cfg, setup, results, best, time.perf_counter() - start)


def _skip_bad_tuned(problem: str) -> None:
    logger().warning("tune: %s; trial 0 uses the defaults and this search replaces it", problem)


# `python flows/tune.py`: one run with the defaults (MovieLens-100K, data dir ./data), on
# the API in PREFECT_API_URL or a temporary one: local development the Prefect way.
if __name__ == "__main__":
    tune()
