"""Hourly refresh: new files are ingested, the published model is reused (not retrained)
and the recommendations follow what users did since the nightly run."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import FAST, run_cli
from recsys.data.synthetic import group_of

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


def current(data: Path) -> Path:
    return (data / "published" / "current").resolve()


def _new_user_file(path: Path, group: int, start: int) -> Path:
    """A user unseen by the champion who clicks eight items of one planted group."""
    items = [f"g{group}-i{group + 8 * k}" for k in range(8)]
    rows = {
        "user_id": ["fresh-user"] * len(items),
        "item_id": items,
        "timestamp": [start + 60 * k for k in range(len(items))],
        "event_type": ["click"] * len(items),
    }
    pq.write_table(pa.table(rows), path)
    return path


def test_refresh_reuses_the_model_and_follows_new_events(tmp_path, planted_events, capsys):
    data, landing = tmp_path / "data", tmp_path / "landing"
    landing.mkdir()
    (landing / "part-0.parquet").write_bytes(Path(planted_events).read_bytes())
    inc = ["--set", "extract.incremental=true"]
    assert run_cli("run", "--events", landing, "--data-dir", data, *FAST, *inc) == 0
    champion = current(data)
    users = pq.read_table(champion / "user_recs.parquet").column("user_id").to_pylist()
    assert "fresh-user" not in users

    newest = pq.read_table(planted_events).column("timestamp").to_numpy().max()
    _new_user_file(landing / "part-1.parquet", group=3, start=int(newest) + 3600)
    capsys.readouterr()
    assert run_cli("refresh", "--events", landing, "--data-dir", data) == 0
    out = capsys.readouterr().out
    assert "incremental extract: 8 rows ingested (1 new, 1 skipped)" in out
    # only the new user is re-cleaned and re-sessionized; everyone else keeps their results
    assert "partial recompute: 1 users, 8 rows;" in out

    refreshed = current(data)
    assert refreshed != champion
    manifest = json.loads((refreshed / "manifest.json").read_text())
    assert manifest["model_run"] == champion.name
    assert "adopt" in manifest["stages"] and "train" not in manifest["stages"]
    for name in ("vectors.npy", "context_vectors.npy", "vocab.parquet"):
        assert (refreshed / name).read_bytes() == (champion / name).read_bytes()
    # Training settings come from the champion, whatever the defaults say.
    assert (
        manifest["config"]["train"]
        == json.loads((champion / "manifest.json").read_text())["config"]["train"]
    )

    extract = json.loads((refreshed / "extract.json").read_text())["details"]
    assert extract["incremental"]["files_new"] == 1
    assert extract["incremental"]["files_skipped"] == 1
    assert extract["incremental"]["rows_ingested"] == 8

    recs = pq.read_table(refreshed / "user_recs.parquet").to_pylist()
    fresh = [r for r in recs if r["user_id"] == "fresh-user"]
    seen = set(pq.read_table(landing / "part-1.parquet").column("item_id").to_pylist())
    assert len(fresh) >= 10
    assert not seen & {r["item_id"] for r in fresh}
    top = [group_of(r["item_id"]) for r in sorted(fresh, key=lambda r: r["rank"])[:10]]
    assert sum(g == 3 for g in top) >= 8

    # An hour with no new files: the same answers, so nothing is published (keep_runs slots
    # and rollback's reach are not spent on copies) and current stays where it is.
    runs = sorted(p.name for p in (data / "runs").iterdir())
    history = (data / "published" / "history.jsonl").read_text()
    capsys.readouterr()
    assert run_cli("refresh", "--events", landing, "--data-dir", data) == 0
    out = capsys.readouterr().out
    assert "incremental extract: 0 rows ingested (2 skipped)" in out
    assert f"nothing new: run {refreshed.name} serves the same recommendations" in out
    assert current(data) == refreshed
    assert sorted(p.name for p in (data / "runs").iterdir()) == runs
    assert (data / "published" / "history.jsonl").read_text() == history
    assert not [p for p in (data / "work").iterdir() if (p / "run").exists()]
    # Its report stays where the summary (and the flow run's link artifact) point, and
    # nothing else of its work folder (no stage database, no corpus).
    kept = out.split("its report: ")[1].split()[0]
    assert Path(kept).is_file() and Path(kept).parent.name == "reports"
    assert "gate" in Path(kept).read_text()
    assert sorted(p.name for p in Path(kept).parent.parent.iterdir()) == ["reports"]


def test_refresh_without_a_published_model_is_a_usage_error(tmp_path, capsys):
    assert run_cli("refresh", "--data-dir", tmp_path / "empty") == 2
    assert "refresh needs a published model" in capsys.readouterr().err


def test_a_refresh_never_publishes_over_a_newer_model(tmp_path):
    """The nightly run published while a refresh of the older model ran: the refresh stops
    before touching anything and the newer model stays current."""
    from datetime import UTC, datetime

    from recsys.config import PipelineConfig
    from recsys.errors import Superseded
    from recsys.layout import RunPaths
    from recsys.model import store
    from recsys.stage import StageReport
    from recsys.tasks.publish import publish

    data = tmp_path / "data"
    old, new = (RunPaths(data_dir=data, run_id=f"2026010{d}T000000Z-aaaaaa") for d in (1, 2))
    for run in (old, new):
        run.ensure()
        (run.out / "manifest.json").write_text("{}")
        run.final_dir.parent.mkdir(parents=True, exist_ok=True)
        run.out.rename(run.final_dir)
        store.switch_current(data, run.run_id)
    refresh = RunPaths.new(data).ensure()
    info = {"kind": "flat", "recall": 1.0, "recall_k": 20}
    (refresh.out / "index.json").write_text(json.dumps(info))
    adopted = StageReport(name="adopt", details={"copied_from": old.run_id})
    with pytest.raises(Superseded, match=f"current moved from {old.run_id} to {new.run_id}"):
        publish(refresh, PipelineConfig(), [adopted], datetime.now(UTC))
    assert current(data) == new.final_dir
    assert not refresh.final_dir.exists()


def test_a_champion_from_an_older_version_keeps_its_training_settings():
    from recsys.config import PipelineConfig
    from recsys.tasks.train.adopt import champion_config

    old = PipelineConfig().model_dump(mode="json")
    old["train"]["vector_size"], old["export"]["scoring"] = 48, "in_in"
    old["tune"]["task_runner"] = "dask"  # a key that has since moved to ops
    tree = champion_config({"run_id": "r1", "config": old})
    cfg = PipelineConfig.model_validate(tree)
    assert cfg.train.vector_size == 48 and cfg.export.scoring == "in_in"
    current_tree = PipelineConfig().model_dump(mode="json")
    assert champion_config({"run_id": "r2", "config": current_tree}) is current_tree
