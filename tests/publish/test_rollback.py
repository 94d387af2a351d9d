"""The run as a Prefect transaction: a failing run is rolled back, a retried one is not."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import FAST, run_cli
from recsys.layout import RunPaths
from recsys.model import store
from recsys.tasks import export as export_stage
from recsys.tasks.rundir import discard_run


def current(data: Path) -> Path:
    return (data / "published" / "current").resolve()


def _task_states(name: str) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas import filters, sorting

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            task_run_filter=filters.TaskRunFilter(name=filters.TaskRunFilterName(like_=name)),
            flow_run_filter=filters.FlowRunFilter(),
            sort=sorting.TaskRunSort.EXPECTED_START_TIME_DESC,
            limit=50,
            offset=0,
        )
    return [r.state.name for r in runs if r.state is not None]


def test_discard_keeps_reports_and_removes_an_unswitched_published_folder(tmp_path):
    data = tmp_path / "data"
    champion = RunPaths(data_dir=data, run_id="20260101T000000Z-aaaaaa").ensure()
    (champion.out / "manifest.json").write_text("{}")
    champion.final_dir.parent.mkdir(parents=True)
    champion.out.rename(champion.final_dir)
    store.switch_current(data, champion.run_id)

    failed = RunPaths(data_dir=data, run_id="20260102T000000Z-bbbbbb").ensure()
    for name in ("metrics.json", "quality.md", "report.html", "vectors.npy", "index.faiss"):
        (failed.out / name).write_text(name)
    (failed.out / "data_docs").mkdir()
    failed.stage_db.write_text("db")
    failed.out.rename(failed.final_dir)  # as if publish renamed it and died before the switch

    removed = discard_run(failed, "OSError: disk full\n")
    assert str(failed.final_dir) in removed and not failed.final_dir.exists()
    assert sorted(p.name for p in failed.work_dir.iterdir()) == ["FAILED", "reports"]
    kept = sorted(p.name for p in (failed.work_dir / "reports").iterdir())
    assert kept == ["data_docs", "metrics.json", "quality.md", "report.html"]
    assert current(data) == champion.final_dir
    assert discard_run(failed, "again") == []  # idempotent
    # The run `current` points at is never removed, whatever called the hook.
    discard_run(champion, "not really")
    assert champion.final_dir.is_dir()


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_a_retried_stage_does_not_roll_the_run_back(tmp_path, planted_events, monkeypatch):
    """Prefect 3.8 rolls a transaction back on any failed child attempt; the stages run
    detached from it, so an export that fails once and is retried still publishes."""
    calls = []
    real = export_stage.export

    def flaky(paths, *args, **kwargs):
        calls.append(paths.run_id)
        if len(calls) == 1:
            raise OSError("transient: object store timed out")
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(export_stage, "export", flaky)
    data = tmp_path / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    assert len(calls) == 2
    assert current(data).name == calls[0]
    assert not (data / "work" / calls[0]).exists()  # publish cleaned up; nothing rolled back


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_publish_failing_after_the_rename_is_rolled_back(tmp_path, planted_events, monkeypatch):
    data = tmp_path / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    champion = current(data)
    switched = store.switch_current

    def broken(data_dir, run_id, action="publish"):
        raise OSError("rename of the current link failed")

    monkeypatch.setattr(store, "switch_current", broken)
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 1
    monkeypatch.setattr(store, "switch_current", switched)
    assert current(data) == champion
    assert sorted(p.name for p in (data / "runs").iterdir()) == [champion.name]
    failed = [p for p in (data / "work").iterdir() if (p / "FAILED").exists()]
    assert len(failed) == 1
    assert (failed[0] / "FAILED").read_text().startswith("OSError: rename of the current link")
    assert (failed[0] / "reports" / "metrics.json").is_file()
    assert not list(failed[0].rglob("*.npy")) and not list(failed[0].rglob("*.faiss"))
    # The UI shows the run's first task as rolled back.
    assert "RolledBack" in _task_states("open-run")


def test_publish_regates_against_a_champion_published_meanwhile(tmp_path, monkeypatch):
    from recsys.config import PipelineConfig
    from recsys.errors import GateRefused
    from recsys.tasks import publish as stage

    data = tmp_path / "data"
    for run in ("old", "new"):
        folder = data / "runs" / run
        folder.mkdir(parents=True)
        (folder / "a.bin").write_bytes(run.encode())
        files = {"a.bin": {"sha256": store.sha256_file(folder / "a.bin"), "bytes": len(run)}}
        (folder / "manifest.json").write_text(json.dumps({"files": files}))
        store.switch_current(data, run)  # "new" published while this run evaluated vs "old"
    paths = RunPaths.new(data)
    paths.ensure()
    (paths.out / "metrics.json").write_text(json.dumps({"champion": {"run_id": "old"}}))
    scored = []
    monkeypatch.setattr(stage, "load_champion", lambda d: ("champion model", "new"))
    monkeypatch.setattr(stage, "load_evaluated", lambda d: SimpleNamespace(vectors=0, context=0))
    monkeypatch.setattr(stage, "Scored", lambda **fields: fields)
    monkeypatch.setattr(stage, "embedding_stats", lambda v, c: {})
    monkeypatch.setattr(stage, "compute_metrics", lambda *a, **k: scored.append(a[3]) or {})
    failing = {"rule": "not_worse_than_champion_hr@20", "passed": False, "note": "0.1 vs 0.5"}
    monkeypatch.setattr(stage, "gate_verdicts", lambda m, s, g: [failing])
    with pytest.raises(GateRefused, match=r"current moved to new .* fails against it"):
        stage._champion_still_beaten(paths, PipelineConfig())
    assert scored == [("champion model", "new")]  # scored against the champion of now
    (paths.out / "metrics.json").write_text(json.dumps({"champion": {"run_id": "new"}}))
    stage._champion_still_beaten(paths, PipelineConfig())  # unchanged champion: no re-check
    assert len(scored) == 1
