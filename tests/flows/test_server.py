"""Against a real `prefect server start` on loopback (not the test harness): the
deployments of prefect.yaml register with plain `prefect deploy --all`, `prefect
deployment ls` works, and an interval deployment gets a run from the server's scheduler
that a process worker completes, starting from DATA_DIR/tuned.yaml."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from recsys.model.store import current_run, read_manifest

pytestmark = [pytest.mark.prefect, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, seconds: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed at teardown)
    proc = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = []
    try:

        def healthy():
            try:
                return httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                return False

        _wait(healthy, 120, "the server")
        yield env, started
    finally:
        for p in [*started, proc]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in [*started, proc]:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        log.close()


def _prefect(env, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def _completed_runs(env, deployment_id: str) -> list[dict]:
    body = {
        "deployments": {"id": {"any_": [deployment_id]}},
        "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        "limit": 10,
    }
    answer = httpx.post(f"{env['PREFECT_API_URL']}/flow_runs/filter", json=body, timeout=10)
    answer.raise_for_status()
    return answer.json()


def test_a_scheduled_run_completes_from_tuned_yaml(server, tmp_path, planted_events):
    env, started = server
    _prefect(env, "work-pool", "create", "recsys-process", "--type", "process")
    _prefect(env, "--no-prompt", "deploy", "--all")
    _prefect(env, "deployment", "ls")  # exit 0 (it failed with HTTP 422 under prefect 3.8.8)
    answer = httpx.post(f"{env['PREFECT_API_URL']}/deployments/filter", json={}, timeout=10)
    names = {d["name"] for d in answer.json()}
    assert {"nightly", "manual", "hourly-refresh", "weekly-tuning", "backfill"} <= names

    data = tmp_path / "data"
    data.mkdir()
    # What only tuned.yaml says: the scheduled run must start from it.
    (data / "tuned.yaml").write_text("train:\n  window: 7\n  epochs: 3\n")
    params = {
        "events": str(planted_events),
        "data_dir": str(data),
        "config": {"gate": {"min_lift": 0.0}, "quality": {"data_docs": False}},
    }
    deploy = [
        "--no-prompt", "deploy", "flows/pipeline.py:pipeline", "-n", "ci-interval",
        "--interval", "20", "--pool", "recsys-process", "-q", "ci",
        "--params", json.dumps(params),
    ]  # fmt: skip
    _prefect(env, *deploy)
    answer = httpx.get(
        f"{env['PREFECT_API_URL']}/deployments/name/item2vec-pipeline/ci-interval", timeout=10
    )
    deployment_id = answer.json()["id"]
    # Only the ci queue: the cron deployments' scheduled runs are never picked up here.
    worker_log = open(tmp_path / "worker.log", "w")  # noqa: SIM115
    started.append(
        subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "recsys-process", "--work-queue", "ci"],
            env=env,
            cwd=ROOT,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )

    def completed():
        done = _completed_runs(env, deployment_id)
        return done[0] if done else None

    try:
        run = _wait(completed, 240, "a completed scheduled run", every=3)
    finally:
        worker_log.close()
    assert run["auto_scheduled"] is True  # made by the scheduler, not by run_deployment
    manifest = read_manifest(current_run(data))
    assert manifest["config"]["train"]["window"] == 7
    assert manifest["config"]["train"]["epochs"] == 3
