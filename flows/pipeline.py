"""The end-to-end pipeline: events file -> published, queryable item2vec model.

    extract -> quality -> train -> evaluate -> refit -> export -> publish

Each stage is a task (retries for I/O, none for data-quality or gate verdicts) that hands
the next one paths and a small report, never a connection or a data frame; every stage
task takes the run (`RunPaths`) and the whole configuration and reads its own section.
`publish` runs last because the contract only lets `current` move once every file of the
run exists; export therefore builds the serving FAISS index and reads the recommendations
from it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import Task, flow

from recsys.config import PipelineConfig, resolve_config, with_keys
from recsys.expectations import process as gx_process
from recsys.layout import RunPaths
from recsys.model.store import crash_point
from recsys.ops import signals
from recsys.ops.notify import notify_hook
from recsys.stage import StageReport, logger, quiet_expected_failures
from recsys.tasks.evaluate import evaluate_task
from recsys.tasks.export import export_task
from recsys.tasks.extract import extract_task
from recsys.tasks.publish import publish_task
from recsys.tasks.quality import quality_task
from recsys.tasks.rundir import run_transaction
from recsys.tasks.train import train_task
from recsys.tasks.train.refit import refit_task


@flow(
    name="item2vec-pipeline",
    validate_parameters=True,
    on_completion=[notify_hook],
    on_failure=[notify_hook],
)
def pipeline(
    events: str | None = None,
    data_dir: str = "data",
    config: PipelineConfig | None = None,
) -> dict:
    """Run every stage once and publish the model if all checks and gates pass.

    Parameters
    ----------
    events
        Events file, glob, directory or URL (see CONTRACT.md); None uses MovieLens-100K.
    data_dir
        Folder for runs, the published model and cached data sets.
    config
        The keys to set (rendered as a form in the Prefect UI); the rest comes from
        DATA_DIR/tuned.yaml, if present, and the defaults (`recsys.config.resolve_config`).
    """
    quiet_expected_failures()
    signals.watch()
    cfg = resolve_config(config, data_dir=data_dir)
    paths = RunPaths.new(data_dir, events)
    logger().info("run %s: data dir %s", paths.run_id, paths.data_dir)
    return run_stages(paths, cfg, train_task, refit=True)


def run_stages(
    paths: RunPaths, cfg: PipelineConfig, model: Task[..., StageReport], *, refit: bool
) -> dict:
    """extract -> quality -> `model` -> evaluate -> [refit] -> export -> publish, as one
    transaction.

    `model` puts the run's vectors in place (train for a full run, adopt for a refresh); a
    full run then trains them again on every event once the gate has passed (`refit`). Any
    stage that finally fails rolls the run back (tasks/rundir.py): its half-written folder
    goes, its reports stay under work/<id>/reports/, `current` never moves."""
    created_at = datetime.now(UTC)
    gx_process.start()  # GX imports on the other core while extract runs
    with run_transaction(paths):
        stages = [_at("extract", extract_task)(paths, cfg)]
        stages.append(_at("quality", quality_task)(paths, cfg))
        stages.append(_at("model", model)(paths, cfg))
        stages.append(_at("evaluate", evaluate_task)(paths, cfg))
        # The weights evaluate chose (when no config layer set them) serve from here on.
        cfg = with_keys(cfg, stages[-1].decided) if stages[-1].decided else cfg
        if refit:
            stages.append(_at("refit", refit_task)(paths, cfg))
        stages.append(_at("export", export_task)(paths, cfg))
        stages.append(_at("publish", publish_task)(paths, cfg, stages, created_at))
    published = stages[-1].details
    return {
        "run_id": paths.run_id,
        # A refresh that found nothing new leaves current as it was (tasks/publish.py).
        "run_dir": published.get("run_dir", str(paths.final_dir)),
        "unchanged": bool(published.get("unchanged")),
        "stages": {s.name: s.model_dump() for s in stages},
    }


def _at(name: str, stage: Task) -> Task:
    """`stage`, after the test hook `before_<name>` (a kill -9 test stops the run there)."""
    crash_point(f"before_{name}")
    return stage


# `python flows/pipeline.py`: one run with the defaults (MovieLens-100K, data dir ./data), on
# the API in PREFECT_API_URL or a temporary one: local development the Prefect way.
if __name__ == "__main__":
    pipeline()
