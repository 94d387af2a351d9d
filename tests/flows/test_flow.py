"""The whole flow through the CLI, under one Prefect test harness (real API, own home)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from helpers import FAST, artifact, events_csv, run_cli
from recsys.data.synthetic import group_of

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


def current(data: Path) -> Path:
    return (data / "published" / "current").resolve()


def test_planted_groups_come_first(tmp_path, planted_events, capsys):
    data = tmp_path / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    run = current(data)
    recs = pq.read_table(run / "item_recs.parquet").to_pylist()
    assert recs and all(r["item_id"] != r["neighbor_id"] for r in recs)
    top5 = [r for r in recs if r["rank"] <= 5]
    same = sum(group_of(r["item_id"]) == group_of(r["neighbor_id"]) for r in top5)
    assert same / len(top5) > 0.9
    manifest = json.loads((run / "manifest.json").read_text())
    assert set(manifest["stages"]) == {
        "extract",
        "quality",
        "train",
        "evaluate",
        "refit",
        "export",
        "publish",
    }
    # The gate evaluated the model trained on the training split; the served one saw all.
    models = manifest["models"]
    assert models["served"]["trained_on"].startswith("every split")  # train.refit=warm
    assert models["served"]["corpus_tokens"] > models["evaluated"]["corpus_tokens"]
    assert manifest["gate"]["passed"] is True
    assert {"item_recs.parquet", "user_recs.parquet", "index.faiss", "metrics.json"} <= set(
        manifest["files"]
    )
    assert {"report.html", "embedding_map.png", "diagnostics.json"} <= set(manifest["files"])
    html = (run / "report.html").read_text()
    assert "gate PASSED" in html and "data:image/png;base64," in html
    rules = {r["rule"]: r for r in manifest["gate"]["rules"]}
    assert rules["not_worse_than_champion_hr@20"]["note"] == "skipped: no published champion"
    # No config layer set the weights: evaluate chose them, and they are what is served.
    chosen = json.loads((run / "metrics.json").read_text())["selection"]["export"]
    assert {k: manifest["config"]["export"][k] for k in chosen} == chosen
    link, table = artifact("recsys-run-report"), artifact("recsys-metrics")
    assert f"(file://{run}/report.html)" in link.data  # prefect stores links as markdown
    assert table.type == "table" and "item2vec" in json.dumps(table.data)
    item = recs[0]["item_id"]
    capsys.readouterr()
    assert run_cli("similar", item, "-k", "5", "--data-dir", data, "--json") == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(answers) == 5
    assert all(group_of(a["item_id"]) == group_of(item) for a in answers)
    assert all(a["item_id"] != item for a in answers)
    users = pq.read_table(run / "user_recs.parquet")
    assert users.column_names == ["user_id", "rank", "item_id", "score", "source"]


def test_publish_lifecycle(tmp_path, planted_events):
    """Second run moves current and keeps the first; failures leave current alone."""
    data = tmp_path / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    first = current(data)
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    second = current(data)
    assert second != first and first.is_dir()
    metrics = json.loads((second / "metrics.json").read_text())
    assert metrics["champion"]["run_id"] == first.name
    # Same data, same seed: the re-scored champion is the same model, so the same HR.
    assert metrics["models"]["champion"]["hr@20"] == pytest.approx(
        metrics["models"]["item2vec"]["hr@20"]
    )
    assert first.name in (second / "report.html").read_text()  # the trend lists the first run

    bad = events_csv(
        tmp_path / "nulls.csv",
        [("u1", "a", 1_700_000_000), ("u1", None, 1_700_000_060), ("u2", "b", 1_700_000_100)],
    )
    assert run_cli("run", "--events", bad, "--data-dir", data, *FAST) == 3
    assert current(data) == second

    impossible = ["--set", "gate.min_hr=1.0"]
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *impossible) == 4
    assert current(data) == second
    refused = sorted((data / "work").iterdir())[-1]
    assert (refused / "FAILED").read_text().startswith("GateRefused")
    assert json.loads((refused / "reports" / "metrics.json").read_text())["gate"]["passed"] is False
    assert "gate REFUSED" in (refused / "reports" / "report.html").read_text()
    # Rolled back: only the FAILED note and the reports stay; no model file anywhere.
    assert sorted(p.name for p in refused.iterdir()) == ["FAILED", "reports"]
    assert not list(refused.rglob("*.npy")) and not list(refused.rglob("*.parquet"))
    assert not (data / "runs" / refused.name).exists()
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as wh:
        verdicts = wh.sql("select run_id, bool_and(gate_passed) from run_metrics group by 1")
        verdicts = dict(verdicts.fetchall())
    assert verdicts == {first.name: True, second.name: True, refused.name: False}

    forced = [*impossible, "--set", "gate.enforce=false"]
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *forced) == 0
    manifest = json.loads((current(data) / "manifest.json").read_text())
    assert manifest["gate"] == {**manifest["gate"], "passed": False, "enforced": False}

    assert run_cli("rollback", "--data-dir", data) == 0
    assert current(data) == second
    assert run_cli("rollback", "--to", first.name, "--data-dir", data) == 0
    assert current(data) == first


def test_movielens_beats_popularity(tmp_path, ml100k):
    """The embedded default data set (no --events): publishes and beats popularity."""
    data = tmp_path / "data"
    assert run_cli("run", "--data-dir", data) == 0
    metrics = json.loads((current(data) / "metrics.json").read_text())
    model, popular = metrics["models"]["item2vec"], metrics["models"]["popularity"]
    assert model["hr@20"] > popular["hr@20"]
    # The goal: beat the best baseline by >= 10% HR@20 (the gate enforces it by default).
    best = max(popular["hr@20"], metrics["models"]["cooccurrence"]["hr@20"])
    assert model["hr@20"] >= 1.1 * best
    diagnostics = json.loads((current(data) / "diagnostics.json").read_text())
    assert diagnostics["neighbours"][0]["title"]  # MovieLens titles found by default
    assert "nmi_vs_category" in diagnostics["clustering"]
    # Held-out cases: half chose the weights (evaluate.select_weights), half were gated.
    assert metrics["test_pairs"] + metrics["selection"]["cases"] > 5_000
    users = duckdb.sql(
        f"select count(distinct user_id) from '{current(data) / 'user_recs.parquet'}'"
    ).fetchall()[0][0]
    assert users == 943
    assert os.environ["RECSYS_ML100K_DIR"]


def test_usage_errors_exit_2(tmp_path):
    data = tmp_path / "data"
    assert run_cli("run", "--events", tmp_path / "missing.csv", "--data-dir", data) == 2
    assert run_cli("run", "--set", "train.epoch=3", "--data-dir", data) == 2
    assert run_cli("run", "--set", "train.sg=7", "--data-dir", data) == 2
    missing = tmp_path / "no-such-items.csv"
    assert (
        run_cli("run", "--set", f"evaluate.item_attributes.path={missing}", "--data-dir", data) == 2
    )
    assert not (data / "published").exists()


def test_dirty_log_with_validation_split(tmp_path):
    """Crawler and retry noise is removed by the configured rules and counted; a validation
    split is held out of training and the run still publishes."""
    from recsys.data.synthetic import generate, write

    clean = generate(20_000, 200, seed=7, noise=0.02)
    dirty = generate(20_000, 200, seed=7, noise=0.02, bot_fraction=0.02, duplicate_fraction=0.03)
    events = write(dirty, tmp_path / "dirty.parquet")
    data = tmp_path / "data"
    rules = ["extract.validation_fraction=0.1", "extract.duplicate_window_seconds=5"]
    rules += ["extract.max_events_per_minute=20"]
    sets = [arg for rule in rules for arg in ("--set", rule)]
    assert run_cli("run", "--events", events, "--data-dir", data, *FAST, *sets) == 0
    stats = json.loads((current(data) / "extract.json").read_text())["details"]
    assert stats["rows_in"] == clean.num_rows + 600 + 400
    # Every planted retry goes, no real event: the duplicate rule runs first, so the crawler's
    # own quick re-hits of an item count as duplicates, the rest of it as bot events.
    assert stats["dropped_duplicates"] >= 600
    assert stats["dropped_duplicates"] + stats["dropped_bot_events"] == 1000
    assert stats["bot_users"] == 1
    assert stats["validation_events"] > 0 and stats["validation_sessions"] > 0
    # gensim saw exactly the training events: validation and test stay out of the corpus.
    manifest = json.loads((current(data) / "manifest.json").read_text())
    assert manifest["stages"]["train"]["rows_in"] == stats["train_events"]
    assert (
        stats["train_events"] + stats["validation_events"] + stats["test_events"]
        == (stats["rows_out"])
    )


def test_incremental_runs_share_the_warehouse_with_run_history(tmp_path, planted_events):
    """Two incremental runs: the second parses nothing, publishes the same corpus, and the
    evaluate stage's run_metrics lives next to the events in the same warehouse file."""
    data, folder = tmp_path / "data", tmp_path / "landing"
    folder.mkdir()
    (folder / "part-0.parquet").write_bytes(Path(planted_events).read_bytes())
    inc = ["--set", "extract.incremental=true"]
    details = []
    for _ in range(2):
        assert run_cli("run", "--events", folder, "--data-dir", data, *FAST, *inc) == 0
        details.append(json.loads((current(data) / "extract.json").read_text())["details"])
    assert details[0]["incremental"]["files_new"] == 1
    assert details[1]["incremental"]["files_skipped"] == 1
    assert details[1]["incremental"]["rows_ingested"] == 0
    assert details[0]["corpus_sha256"] == details[1]["corpus_sha256"]
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        runs = con.execute("select count(distinct run_id) from run_metrics").fetchone()[0]
        rows = con.execute("select rows from wh_watermark").fetchone()[0]
    assert runs == 2 and rows == details[0]["rows_in"]
