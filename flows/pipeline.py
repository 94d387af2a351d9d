"""The end-to-end pipeline: events file -> published, queryable item2vec model.

    extract -> quality -> train -> evaluate -> export -> publish

Each stage is a task (retries for I/O, none for data-quality or gate verdicts) that hands
the next one paths and a small report, never a connection or a data frame. `publish` runs
last because the contract only lets `current` move once every file of the run exists;
export therefore builds the serving FAISS index and reads the recommendations from it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from prefect import flow

from recsys.config import PipelineConfig
from recsys.layout import RunPaths
from recsys.notify import notify_hook
from recsys.stage import StageReport, logger
from recsys.tasks.diagnostics import resolve_attributes
from recsys.tasks.evaluate import evaluate_task
from recsys.tasks.export import export_task
from recsys.tasks.extract import extract_task
from recsys.tasks.publish import publish_task
from recsys.tasks.quality import quality_task
from recsys.tasks.rundir import run_transaction
from recsys.tasks.train import train_task


@flow(
    name="item2vec-pipeline",
    validate_parameters=True,
    on_completion=[notify_hook],
    on_failure=[notify_hook],
)
def pipeline(
    events: str | None = None,
    data_dir: str = "data",
    config: PipelineConfig = PipelineConfig(),
) -> dict:
    """Run every stage once and publish the model if all checks and gates pass.

    Parameters
    ----------
    events
        Events file, glob, directory or URL (see CONTRACT.md); None uses MovieLens-100K.
    data_dir
        Folder for runs, the published model and cached data sets.
    config
        The whole pipeline configuration (rendered as a form in the Prefect UI).
    """
    paths = RunPaths.new(data_dir)
    logger().info("run %s: data dir %s", paths.run_id, paths.data_dir)
    return run_stages(
        events, paths, config, lambda: train_task(paths, config.train, config.augment, config.ops)
    )


def run_stages(
    events: str | None,
    paths: RunPaths,
    config: PipelineConfig,
    model: Callable[[], StageReport],
) -> dict:
    """extract -> quality -> `model` -> evaluate -> export -> publish, as one transaction.

    `model` puts the run's vectors in place (train for a full run, adopt for a refresh). Any
    stage that finally fails rolls the run back (tasks/rundir.py): its half-written folder
    goes, its reports stay under work/<id>/reports/, `current` never moves."""
    created_at = datetime.now(UTC)
    with run_transaction(paths):
        attrs = resolve_attributes(config.evaluate.item_attributes, events, paths.data_dir)
        stages = [extract_task(events, paths, config.extract, config.quality, config.ops)]
        stages.append(quality_task(paths, config.quality, config.extract))
        stages.append(model())
        stages.append(
            evaluate_task(
                paths, config.evaluate, config.gate, config.export.scoring, attrs, config.ops
            )
        )
        stages.append(export_task(paths, config.export, config.ops))
        stages.append(publish_task(paths, config, stages, created_at))
    return {
        "run_id": paths.run_id,
        "run_dir": str(paths.final_dir),
        "stages": {s.name: s.model_dump() for s in stages},
    }
