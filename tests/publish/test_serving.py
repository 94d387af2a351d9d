"""Crash safety of publishing (SIGKILL at every step), verified loading, light serving."""

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
from recsys.layout import runs_dir
from recsys.model import store

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

POINTS = [
    "before_manifest",
    "manifest_half_written",
    "before_rename",
    "before_switch",
    "link_created",
    "before_prune",
]

# Publishes a copy of a complete run (re-staged under work/<id>/run) in a fresh process.
PUBLISH = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from recsys.config import PipelineConfig
from recsys.layout import RunPaths
from recsys.tasks.publish import publish
paths = RunPaths(data_dir=Path(sys.argv[1]), run_id=sys.argv[2])
# gate.enforce=false: the copy was evaluated against another champion than the current one,
# and it has no stage database to be re-scored on (a real run's publish re-gates it).
cfg = PipelineConfig(publish={"keep_runs": 2}, gate={"enforce": False})
publish(paths, cfg, [], datetime.now(UTC))
"""


def stage_copy(data: Path, source: Path, run_id: str) -> None:
    out = data / "work" / run_id / "run"
    shutil.copytree(source, out)
    (out / "manifest.json").unlink()


def publish_and_kill(data: Path, run_id: str, point: str, tmp_path: Path) -> None:
    """Run publish in a subprocess that pauses at `point`; SIGKILL it there."""
    flag = tmp_path / f"paused-{run_id}"
    env = {**os.environ, "RECSYS_PAUSE_AT": point, "RECSYS_PAUSE_FILE": str(flag)}
    proc = subprocess.Popen([sys.executable, "-c", PUBLISH, str(data), run_id], env=env)
    deadline = time.monotonic() + 120
    while not flag.exists():
        assert proc.poll() is None, f"publish exited ({proc.returncode}) before {point}"
        assert time.monotonic() < deadline, f"publish never reached {point}"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def assert_current_complete(data: Path) -> str:
    run = store.current_run(data)
    store.verify(run)  # every file, full sha256
    return run.name


def test_sigkill_at_every_publish_step_leaves_current_complete(tmp_path, planted_events):
    data = tmp_path / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    template = store.current_run(data)
    seen = set()
    for n, point in enumerate(POINTS):
        before = assert_current_complete(data)
        run_id = f"29990101T0000{n:02d}Z-kill{n}"
        stage_copy(data, template, run_id)
        publish_and_kill(data, run_id, point, tmp_path)
        after = assert_current_complete(data)
        moved = after == run_id
        # Before the switch nothing moves; once the link is renamed in, it is the new run.
        assert moved == (point == "before_prune"), point
        assert after in (before, run_id)
        seen.add(after)
    # A killed half-deleting prune never leaves a half run behind, and history still works.
    assert run_cli("rollback", "--data-dir", data) == 0
    assert_current_complete(data)
    assert not [p for p in runs_dir(data).iterdir() if not (p / "manifest.json").is_file()]


def test_tampered_or_truncated_runs_are_refused(tmp_path, planted_events, capsys):
    data = tmp_path / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    run = store.current_run(data)
    item = "g0-i0"
    assert run_cli("similar", item, "-k", "3", "--data-dir", data) == 0
    index_file = run / "index.faiss"
    raw = bytearray(index_file.read_bytes())
    raw[-10] ^= 0xFF  # same size, different bytes
    index_file.write_bytes(bytes(raw))
    capsys.readouterr()
    assert run_cli("similar", item, "--data-dir", data) == 1
    assert "index.faiss does not match its manifest sha256" in capsys.readouterr().err
    recs = run / "user_recs.parquet"
    recs.write_bytes(recs.read_bytes()[:100])  # half-written
    assert run_cli("recommend", "u1", "--data-dir", data) == 1
    assert "refusing run" in capsys.readouterr().err


def test_serving_needs_no_training_library(tmp_path, planted_events):
    data = tmp_path / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    probe = (
        "import sys; from recsys.cli import main\n"
        f"assert main(['similar', 'g0-i0', '--data-dir', {str(data)!r}]) == 0\n"
        f"assert main(['recommend', 'u1', '--data-dir', {str(data)!r}]) == 0\n"
        "heavy = {'gensim', 'prefect', 'great_expectations'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
