"""The hostile catalogue's process faults: `recsys run` killed with SIGKILL before each
stage, the temporary Prefect API dying with its process, and two runs plus a refresh on one
data directory at once. The champion stays byte-identical, the next run sweeps the dead
run's folder, `current` is always a complete run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import FAST, run_cli
from hostile_catalogue import snapshot
from recsys.layout import FAILED, OWNER, STAGE_DB
from recsys.model.store import current_run, history, verify
from recsys.tasks.rundir import sweep_dead_runs

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


@pytest.fixture(scope="module")
def champion(tmp_path_factory, planted_events, prefect_api) -> Path:
    data = tmp_path_factory.mktemp("faults") / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    return data


def _api_env(**extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **extra}


def _recsys(*args, env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "recsys", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached its pause point"
        time.sleep(0.2)


@pytest.mark.parametrize(
    "point", ["before_extract", "before_model", "before_export", "before_switch"]
)
def test_kill_9_at_each_stage(tmp_path, champion, planted_events, point):
    data = tmp_path / "data"
    shutil.copytree(champion, data, symlinks=True)
    before = snapshot(data)
    flag = tmp_path / "paused"
    env = _api_env(RECSYS_PAUSE_AT=point, RECSYS_PAUSE_FILE=str(flag))
    proc = _recsys("run", "--events", planted_events, "--data-dir", data, *FAST, env=env)
    _wait_for(flag, proc)
    assert sweep_dead_runs(data) == []  # the run is alive: its folder is never swept
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    (dead,) = [p for p in (data / "work").iterdir() if (p / OWNER).exists()]
    if point == "before_switch":  # renamed into runs/ but never switched to
        assert (data / "runs" / dead.name).is_dir()
        before[f"runs/{dead.name}"] = None
    else:
        assert snapshot(data) == before
    assert current_run(data).name == Path(before["current"]).name
    assert sweep_dead_runs(data) == [dead.name]
    assert (dead / FAILED).read_text().startswith("the run's process died")
    assert not (dead / STAGE_DB).exists() and not (data / "runs" / dead.name).exists()
    before.pop(f"runs/{dead.name}", None)
    assert snapshot(data) == before
    assert sweep_dead_runs(data) == []  # a rolled-back folder is not swept again


def test_the_temporary_api_dies_with_a_killed_run(tmp_path, planted_events):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"PREFECT_HOME": str(tmp_path / "home")}
    env |= {"RECSYS_PAUSE_AT": "before_extract", "RECSYS_PAUSE_FILE": str(tmp_path / "p")}
    proc = _recsys("run", "--events", planted_events, "--data-dir", tmp_path / "d", env=env)
    _wait_for(tmp_path / "p", proc, seconds=240)
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    servers = [int(c) for c in children if "uvicorn" in Path(f"/proc/{c}/cmdline").read_text()]
    assert servers, "no temporary API server was started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in servers) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in servers:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text()


def test_two_runs_and_a_refresh_at_once_end_consistently(tmp_path, champion, planted_events):
    data = tmp_path / "data"
    shutil.copytree(champion, data, symlinks=True)
    env = _api_env()
    procs = [
        _recsys("run", "--events", planted_events, "--data-dir", data, *FAST, env=env),
        _recsys("run", "--events", planted_events, "--data-dir", data, *FAST, env=env),
        _recsys("refresh", "--events", planted_events, "--data-dir", data, env=env),
    ]
    results = [(p.wait(600), p.communicate()[1]) for p in procs]
    for code, err in results:
        assert code in (0, 1, 4), err
        if code:
            last = err.strip().splitlines()[-1]
            assert last.startswith("error: ") and "Traceback" not in err, err
    assert any(code == 0 for code, _ in results)
    verify(current_run(data))  # current is one complete run
    published = [h["run_id"] for h in history(data) if h["action"] == "publish"]
    assert len(published) == 1 + sum(code == 0 for code, _ in results)
    assert current_run(data).name == published[-1]


def test_only_the_newest_ended_work_folders_are_kept(tmp_path):
    # A scheduled run failing every night kept every night's reports (and a weekly tune its
    # trials): the disk filled with folders nobody reads.
    from recsys.ops import owner
    from recsys.tasks.rundir import KEEP_REPORTS, prune_kept_reports

    work = tmp_path / "data" / "work"
    failed = [f"20260101T{h:02d}{m:02d}00Z-f" for h in range(3) for m in range(10)]
    for name in failed:
        (work / name / "reports").mkdir(parents=True)
        (work / name / FAILED).write_text("the gate refused the model\n")
    live = work / "20250101T000000Z-live"  # older than all, but its run is still going
    live.mkdir()
    owner.claim(live)
    try:
        pruned = prune_kept_reports(tmp_path / "data", keep="20260101T025900Z-new")
    finally:
        owner.release(live)
    assert pruned == failed[: len(failed) - KEEP_REPORTS]
    assert sorted(p.name for p in work.iterdir()) == [live.name, *failed[-KEEP_REPORTS:]]
