"""Diagnostics and the run report on planted embeddings with a known answer."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys.config import EvaluateConfig, ItemAttributes
from recsys.data.attributes import load_attributes
from recsys.errors import UsageError
from recsys.layout import VOCAB, RunPaths
from recsys.model.embedding import Embedding
from recsys.tasks.evaluate.diagnostics import diagnose
from recsys.tasks.evaluate.history import record_history
from recsys.tasks.evaluate.report import write_report

GROUPS, PER_GROUP = 4, 30


def _planted(folder) -> Embedding:
    """Four tight, well separated clusters; item i belongs to group i % 4."""
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:GROUPS] * 5
    n = GROUPS * PER_GROUP
    vectors = centres[np.arange(n) % GROUPS] + rng.normal(0, 0.1, (n, 8)).astype(np.float32)
    ids = np.array([f"i{i}" for i in range(n)], dtype=object)
    counts = np.arange(n, 0, -1)  # i0 is the most trained item
    pq.write_table(
        pa.table({"row": range(n), "item_id": ids.tolist(), "count": counts}), folder / VOCAB
    )
    return Embedding(vectors, ids, vectors)


def _attributes(tmp_path) -> ItemAttributes:
    path = tmp_path / "items.tsv"
    lines = ["id\tname\tgenres"] + [
        f"i{i}\tTitle {i}\tG{i % GROUPS} Other" for i in range(GROUPS * PER_GROUP)
    ]
    path.write_text("\n".join(lines) + "\n")
    return ItemAttributes(
        path=str(path), id_column="id", title_column="name", category_column="genres"
    )


def test_attributes_take_the_first_category(tmp_path):
    attrs = load_attributes(_attributes(tmp_path))
    assert attrs["i5"] == ("Title 5", "G1")


def test_diagnose_finds_the_planted_clusters(tmp_path):
    emb = _planted(tmp_path)
    cfg = EvaluateConfig(n_clusters=GROUPS, neighbour_samples=2)
    diag = diagnose(emb, "in_in", tmp_path, cfg, _attributes(tmp_path))
    assert diag["clustering"]["silhouette"] > 0.9
    assert diag["clustering"]["davies_bouldin"] < 0.2
    assert diag["clustering"]["nmi_vs_category"] == pytest.approx(1.0)
    first = diag["neighbours"][0]
    assert first["item_id"] == "i0" and first["title"] == "Title 0"
    assert all(int(n["item_id"][1:]) % GROUPS == 0 for n in first["neighbours"])
    assert (tmp_path / "embedding_map.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "diagnostics.json").read_text())["sample_items"] == 120


def test_shuffled_categories_score_low_nmi(tmp_path):
    emb = _planted(tmp_path)
    emb.vectors = np.random.default_rng(1).normal(size=emb.vectors.shape).astype(np.float32)
    cfg = EvaluateConfig(n_clusters=GROUPS)
    diag = diagnose(emb, "in_in", tmp_path, cfg, _attributes(tmp_path))
    assert diag["clustering"]["nmi_vs_category"] < 0.2
    assert diag["clustering"]["silhouette"] < 0.3


def _metrics(hr: float, passed: bool) -> dict:
    rule = {"rule": "min_hr@20", "observed": hr, "threshold": 0.1, "passed": passed}
    return {
        "task": "t",
        "scoring": "in_out",
        "test_pairs": 10,
        "test_events": 12,
        "vocab_coverage": 1.0,
        "models": {"item2vec": {"hr@20": hr}, "popularity": {"hr@20": 0.05}},
        "slices": [],
        "gate": {"passed": passed, "enforced": True, "rules": [rule]},
    }


def test_report_trend_and_warehouse_history(tmp_path):
    data = tmp_path / "data"
    old = data / "runs" / "20200101T000000Z-aaaaaa"
    old.mkdir(parents=True)
    (old / "metrics.json").write_text(json.dumps(_metrics(0.1234, True)))
    paths = RunPaths.new(data).ensure()
    emb = _planted(paths.out)
    diag = diagnose(emb, "in_in", paths.out, EvaluateConfig(n_clusters=GROUPS), None)
    html = write_report(paths, _metrics(0.0567, False), diag).read_text()
    assert "gate REFUSED" in html and "FAIL" in html
    assert "0.1234" in html and "0.0567" in html and old.name in html  # the trend
    # embedded charts only: sources (item task), trend over both runs, diagnostics
    assert html.count("data:image/png;base64,") == 3 and 'src="http' not in html
    assert 'alt="trend"' in html
    assert record_history(data, paths.run_id, _metrics(0.0567, False)) == 2
    assert record_history(data, paths.run_id, _metrics(0.0567, False)) == 2  # idempotent
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("select source, value, gate_passed from run_metrics order by 1").fetchall()
    assert rows == [("item2vec", 0.0567, False), ("popularity", 0.05, False)]


def test_bad_attributes_file_is_a_usage_error(tmp_path):
    attrs = _attributes(tmp_path).model_copy(update={"title_column": "no_such_column"})
    with pytest.raises(UsageError, match=r"item_attributes .*no_such_column"):
        load_attributes(attrs)
    with pytest.raises(UsageError, match="item_attributes"):
        load_attributes(attrs.model_copy(update={"path": str(tmp_path / "missing.csv")}))
