"""prefect.yaml end to end: `prefect deploy` registers the manual deployment on a test server,
and a real process worker picks its run up, runs the pipeline and publishes a model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
POOL = "recsys-process"  # the pool prefect.yaml's deployments use
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
SMALL = {"train": {"epochs": 5, "vector_size": 32, "workers": 1}}


def _run(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_deployment_runs_through_a_process_worker(tmp_path, planted_events):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    # What `make deploy` runs: plain `prefect deploy --all`, no shim, no extra variable.
    _run("prefect", "work-pool", "create", POOL, "--type", "process", "--overwrite", env=env)
    _run("prefect", "--no-prompt", "deploy", "--all", env=env)
    from prefect.flows import load_flow_from_entrypoint

    with get_client(sync_client=True) as client:
        for d in DEPLOYMENTS:  # --all registered every deployment, not just the first
            flow_name = load_flow_from_entrypoint(str(ROOT / d["entrypoint"])).name
            client.read_deployment_by_name(f"{flow_name}/{d['name']}")

    data_dir = tmp_path / "data"
    params = {"events": str(planted_events), "data_dir": str(data_dir), "config": SMALL}
    run = run_deployment("item2vec-pipeline/manual", parameters=params, timeout=0)
    assert run.state.is_scheduled()

    # One poll: the worker takes the scheduled run, executes it in a child process and exits.
    _run("prefect", "worker", "start", "--pool", POOL, "--run-once", env=env, timeout=240)

    with get_client(sync_client=True) as client:
        final = client.read_flow_run(run.id)
    assert final.state.is_completed(), final.state
    assert final.deployment_id == run.deployment_id
    current = data_dir / "published" / "current"
    assert (current / "manifest.json").is_file()
    assert (current / "item_recs.parquet").is_file()
    # The worker ran the deployment's config, not the defaults.
    manifest = json.loads((current / "manifest.json").read_text())
    assert manifest["config"]["train"]["epochs"] == 5
