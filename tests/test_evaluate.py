"""Metric definitions on candidate lists whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys import index, sqlrun
from recsys.config import GateConfig
from recsys.tasks.evaluate import MODEL, gate_verdicts
from recsys.vocab import Embedding


@pytest.fixture
def con():
    con = sqlrun.connect()
    con.execute(
        "create table test_pairs as select * from (values (1, 'a', 'x'), (2, 'a', 'y'), "
        "(3, 'b', 'z')) t(pair_id, query_id, target_id)"
    )
    sqlrun.run(con, "evaluate_candidates")
    con.execute(
        "insert into candidates values ('m', 'a', 1, 'x'), ('m', 'a', 2, 'w'), ('m', 'a', 3, 'y')"
    )
    return con


def test_hr_mrr_ndcg_by_hand(con):
    rows = sqlrun.run(con, "evaluate_metrics", {"ks": [1, 3]}).fetchall()
    got = {k: (hr, mrr, ndcg) for _, k, n, hr, mrr, ndcg in rows}
    # Hits: x at rank 1, y at rank 3, z never (query b has no candidates).
    assert got[1] == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert got[3] == pytest.approx((2 / 3, (1 + 1 / 3) / 3, (1 + 1 / math.log2(4)) / 3))


def test_popularity_never_recommends_the_query(con):
    con.execute(
        "create table items as select * from (values (0, 'a', 50), (1, 'x', 40), "
        "(2, 'y', 30), (3, 'b', 20)) t(token, item_id, train_count)"
    )
    sqlrun.run(con, "evaluate_popularity", {"k": 2})
    lists = con.execute(
        "select query_id, list(item_id order by rank) from candidates "
        "where source = 'popularity' group by 1 order by 1"
    ).fetchall()
    assert lists == [("a", ["x", "y"]), ("b", ["a", "x"])]


def _metrics(model_hr: float, popular_hr: float) -> dict:
    return {"models": {MODEL: {"hr@20": model_hr}, "popularity": {"hr@20": popular_hr}}}


def test_gate_rules():
    emb = Embedding(np.ones((2, 3), dtype=np.float32), np.array(["a", "b"], dtype=object))
    ok = gate_verdicts(
        _metrics(0.2, 0.1), emb, GateConfig(min_hr=0.1, min_lift_over_popularity=0.5)
    )
    assert all(v["passed"] for v in ok)
    low = gate_verdicts(_metrics(0.2, 0.15), emb, GateConfig(min_lift_over_popularity=0.5))
    assert [v["rule"] for v in low if not v["passed"]] == ["lift_hr@20_over_popularity"]
    emb.vectors[0, 0] = np.nan
    broken = gate_verdicts(_metrics(0.2, 0.1), emb, GateConfig())
    assert [v["rule"] for v in broken if not v["passed"]] == ["finite_vectors"]


def test_neighbours_never_include_self_even_for_duplicates():
    vectors = np.array([[1, 0], [1, 0], [0, 1], [0.9, 0.1]], dtype=np.float32)
    queries, indexed = index.spaces(vectors, vectors, "in_in")
    idx = index.build_exact(indexed)
    rows = np.arange(4)
    _, ids = index.neighbours_without_self(idx, queries, rows, 2)
    for row in rows:
        assert row not in ids[row]
    assert set(ids[1]) == {0, 3}
