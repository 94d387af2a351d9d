"""Atomic switching, rollback, retention and manifest verification."""

from __future__ import annotations

import json
import shutil

import pytest

from recsys.errors import PublishError, UsageError
from recsys.layout import current_link, runs_dir
from recsys.model import store


def fake_run(data, run_id: str) -> str:
    folder = runs_dir(data) / run_id
    folder.mkdir(parents=True)
    (folder / "item_recs.parquet").write_bytes(run_id.encode())
    recs = folder / "item_recs.parquet"
    files = {"item_recs.parquet": {"sha256": store.sha256_file(recs), "bytes": len(run_id)}}
    (folder / "manifest.json").write_text(json.dumps({"run_id": run_id, "files": files}))
    return run_id


def test_switch_rollback_and_history(tmp_path):
    a, b, c = (fake_run(tmp_path, r) for r in ("r1", "r2", "r3"))
    for run in (a, b, c):
        store.switch_current(tmp_path, run)
    assert store.current_run(tmp_path).name == c
    assert current_link(tmp_path).is_symlink()
    assert store.rollback(tmp_path) == b
    assert store.rollback(tmp_path, to=a) == a
    with pytest.raises(UsageError, match="no run 'zz'"):
        store.rollback(tmp_path, to="zz")
    assert [h["action"] for h in store.history(tmp_path)][-2:] == ["rollback", "rollback"]


def test_rollback_twice_goes_further_back_never_forward(tmp_path):
    a, b, c = (fake_run(tmp_path, r) for r in ("r1", "r2", "r3"))
    for run in (a, b, c):
        store.switch_current(tmp_path, run)
    assert store.rollback(tmp_path) == b
    assert store.rollback(tmp_path) == a  # not forward to r3 again
    with pytest.raises(UsageError, match="no run was published before r1"):
        store.rollback(tmp_path)
    assert store.current_run(tmp_path).name == a
    with pytest.raises(UsageError, match="r3 was published after the current run r1"):
        store.rollback(tmp_path, to=c)
    lines = len(store.history(tmp_path))
    assert store.rollback(tmp_path, to=a) == a  # already current: no switch, no history line
    assert len(store.history(tmp_path)) == lines
    assert store.current_run(tmp_path).name == a


def test_rollback_recovers_from_a_current_whose_run_is_gone(tmp_path):
    a, b, c = (fake_run(tmp_path, r) for r in ("r1", "r2", "r3"))
    for run in (a, b, c):
        store.switch_current(tmp_path, run)
    shutil.rmtree(runs_dir(tmp_path) / c)
    with pytest.raises(PublishError, match=r"has no manifest\.json"):
        store.current_run(tmp_path)
    assert store.rollback(tmp_path) == b
    assert store.current_run(tmp_path).name == b


def test_runs_lists_every_run_robustly(tmp_path):
    a, b = fake_run(tmp_path, "r1"), fake_run(tmp_path, "r2")
    manifest = runs_dir(tmp_path) / b / "manifest.json"
    body = json.loads(manifest.read_text())
    body |= {"created_at": "2026-01-01T00:00:00", "gate": {"passed": False}}
    body["metrics"] = {"item2vec": {"hr@20": 0.5, "mrr@20": 0.25, "note": "text"}}
    manifest.write_text(json.dumps(body))
    (runs_dir(tmp_path) / "r3").mkdir()
    (runs_dir(tmp_path) / "r3" / "manifest.json").write_text("{not json")
    store.switch_current(tmp_path, a)
    rows = {row["run_id"]: row for row in store.list_runs(tmp_path)}
    assert rows["r1"]["current"] and not rows["r2"]["current"]
    assert rows["r2"]["metrics"] == {"hr@20": 0.5, "mrr@20": 0.25}
    assert rows["r2"]["gate"] == "refused" and rows["r1"]["gate"] is None
    assert "unreadable manifest.json" in rows["r3"]["error"]
    assert store.list_runs(tmp_path / "empty") == []
    # The current run truncated after it was published: still marked current, with why
    # `similar` and `serve` refuse it.
    (runs_dir(tmp_path) / a / "item_recs.parquet").write_bytes(b"")
    row = {row["run_id"]: row for row in store.list_runs(tmp_path)}["r1"]
    assert row["current"] and "item_recs.parquet has 0 bytes, manifest says 2" in row["error"]


def test_switch_refuses_incomplete_runs(tmp_path):
    (runs_dir(tmp_path) / "half").mkdir(parents=True)
    with pytest.raises(PublishError, match="not a complete run"):
        store.switch_current(tmp_path, "half")
    with pytest.raises(PublishError, match="no published model"):
        store.current_run(tmp_path)


def test_verify_detects_tampering(tmp_path):
    run = fake_run(tmp_path, "r1")
    store.verify(runs_dir(tmp_path) / run)
    (runs_dir(tmp_path) / run / "item_recs.parquet").write_bytes(
        b"x1"
    )  # same size: only the hash tells
    with pytest.raises(PublishError, match="does not match"):
        store.verify(runs_dir(tmp_path) / run)


def test_prune_keeps_current_and_previous(tmp_path):
    runs = [fake_run(tmp_path, f"r{i}") for i in range(6)]
    store.switch_current(tmp_path, runs[1])
    store.switch_current(tmp_path, runs[0])  # an old run is current
    removed = store.prune(tmp_path, keep=2)
    kept = sorted(p.name for p in runs_dir(tmp_path).iterdir())
    assert kept == ["r0", "r1", "r4", "r5"]
    assert sorted(removed) == ["r2", "r3"]


def test_verify_checks_sizes_of_all_and_hashes_of_what_is_read(tmp_path):
    run = runs_dir(tmp_path) / fake_run(tmp_path, "r1")
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "index.faiss").write_bytes(b"index")
    manifest["files"]["index.faiss"] = {
        "sha256": store.sha256_file(run / "index.faiss"),
        "bytes": 5,
    }
    manifest["files"]["item_recs.parquet"]["bytes"] = 3  # the file has 2
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PublishError, match=r"item_recs\.parquet has \d+ bytes, manifest says 3"):
        store.verify(run, hashed={"index.faiss"})
    manifest["files"]["item_recs.parquet"].pop("bytes")
    (run / "manifest.json").write_text(json.dumps(manifest))
    store.verify(run, hashed={"index.faiss", "index.json"})  # absent and unlisted: fine
    (run / "index.json").write_text("{}")
    with pytest.raises(PublishError, match=r"index\.json not in the manifest"):
        store.verify(run, hashed={"index.faiss", "index.json"})
    (run / "manifest.json").write_text("{not json")
    with pytest.raises(PublishError, match=r"unreadable manifest\.json"):
        store.verify(run)


def test_an_older_manifest_is_brought_up_and_a_newer_one_refused(tmp_path):
    run = runs_dir(tmp_path) / fake_run(tmp_path, "r1")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["config"] = {"quality": {"min_year": 2001}, "export": {"scoring": "in_in"}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    read = store.read_manifest(run)
    assert read["schema_version"] == store.MANIFEST_VERSION
    assert read["model_run"] == "r1"  # a run of an older version trained its own vectors
    assert read["config"] == {
        "quality": {},
        "extract": {"min_year": 2001},
        "export": {"scoring": "in_in"},
    }
    assert read["files"]["item_recs.parquet"]["bytes"] == len(b"r1")
    store.verify(run)
    manifest["schema_version"] = store.MANIFEST_VERSION + 1
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PublishError, match="newer than this recsys reads"):
        store.verify(run)
