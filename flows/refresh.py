"""Hourly refresh: ingest new events, re-export recommendations from the published model.

    extract (incremental) -> quality -> adopt -> evaluate -> export -> publish

Between nightly trainings users keep acting; their recommendations should follow. This
flow ingests only the new files into the events warehouse (`extract.incremental`), checks
the data like a full run, takes the published model's vectors instead of training
(`tasks/train/adopt.py`), evaluates that model on the newest test split (the gate refuses it
if it has gone stale against the baselines on fresh data, which is the signal to retrain)
and publishes fresh `user_recs`/`item_recs` under a new run id whose manifest names the
`model_run` that trained the vectors. The `hourly-refresh` deployment schedules it.
"""

from __future__ import annotations

from prefect import flow

from recsys.config import PipelineConfig, refresh_config
from recsys.flows.pipeline import run_stages
from recsys.layout import RunPaths
from recsys.ops import signals
from recsys.ops.notify import notify_hook
from recsys.stage import logger, quiet_expected_failures
from recsys.tasks.train.adopt import adopt_task, champion_config, champion_manifest


@flow(
    name="item2vec-refresh",
    validate_parameters=True,
    on_completion=[notify_hook],
    on_failure=[notify_hook],
)
def refresh(
    events: str | None = None,
    data_dir: str = "data",
    config: PipelineConfig | None = None,
) -> dict:
    """Ingest new events and republish recommendations from the current model.

    Parameters
    ----------
    events
        The landing folder, glob or file the nightly run also reads; only files not yet in
        `DATA_DIR/warehouse.duckdb` (or changed since) are parsed. None: MovieLens-100K.
    data_dir
        Data directory holding the published model and the warehouse.
    config
        Keys to set over the published run's configuration (None: use it as it is).
        Training settings and the scoring always come from the published run.
    """
    quiet_expected_failures()
    signals.watch()
    champion = champion_manifest(data_dir)
    cfg = refresh_config(champion_config(champion), config)
    paths = RunPaths.new(data_dir, events)
    logger().info("refresh %s: reusing the model of run %s", paths.run_id, champion["model_run"])
    result = run_stages(paths, cfg, adopt_task, refit=False)
    return {**result, "model_run": result["stages"]["adopt"]["details"]["model_run"]}


# `python flows/refresh.py`: one run with the defaults (MovieLens-100K, data dir ./data), on
# the API in PREFECT_API_URL or a temporary one: local development the Prefect way.
if __name__ == "__main__":
    refresh()
