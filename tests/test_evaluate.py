"""Metric definitions on candidate lists whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from recsys import index, sqlrun


@pytest.fixture
def con():
    con = sqlrun.connect()
    # Pairs: a->x (short session), a->y, b->z (long sessions), c->q (q never trained: cold).
    con.execute(
        "create table test_pairs as select * from (values (1, 'a', 'x', 3), (2, 'a', 'y', 9), "
        "(3, 'b', 'z', 9), (4, 'c', 'q', 9)) t(pair_id, query_id, target_id, session_length)"
    )
    # Catalogue of 5 trained items, most trained first: a, x, y, b, z.
    con.execute(
        "create table items as select * from (values (0, 'a', 50), (1, 'x', 40), "
        "(2, 'y', 30), (3, 'b', 20), (4, 'z', 10)) t(token, item_id, train_count)"
    )
    sqlrun.run(con, "evaluate_candidates")
    con.execute(
        "insert into candidates values ('m', 'a', 1, 'x'), ('m', 'a', 2, 'w'), ('m', 'a', 3, 'y')"
    )
    return con


def test_hr_mrr_ndcg_by_hand(con):
    sqlrun.run(con, "evaluate_hits")
    rows = sqlrun.run(con, "evaluate_metrics", {"ks": [1, 3]}).fetchall()
    got = {k: (hr, mrr, ndcg) for _, k, n, hr, mrr, ndcg in rows}
    # Hits: x at rank 1, y at rank 3, z and q never (queries b, c have no candidates).
    assert got[1] == pytest.approx((1 / 4, 1 / 4, 1 / 4))
    assert got[3] == pytest.approx((2 / 4, (1 + 1 / 3) / 4, (1 + 1 / math.log2(4)) / 4))


def test_slices_by_hand(con):
    sqlrun.run(con, "evaluate_hits")
    params = {"k": 3, "head_share": 0.4, "short_max": 5}
    rows = sqlrun.run(con, "evaluate_slices", params).fetchall()
    got = {(dim, value): (n, hr) for _, dim, value, n, hr, _ in rows}
    # Head = the 2 most trained items (a, x); y, z are tail; q is cold.
    assert got[("target_item", "head")] == (1, pytest.approx(1.0))
    assert got[("target_item", "tail")] == (2, pytest.approx(0.5))
    assert got[("target_item", "cold")] == (1, pytest.approx(0.0))
    assert got[("session", "short")] == (1, pytest.approx(1.0))
    assert got[("session", "long")] == (3, pytest.approx(1 / 3))
    # Query c was never trained: its pair is the only cold-query case.
    assert got[("query_item", "cold")] == (1, pytest.approx(0.0))
    assert got[("query_item", "trained")] == (3, pytest.approx(2 / 3))


def test_coverage_and_popularity_bias_by_hand(con):
    rows = sqlrun.run(con, "evaluate_beyond", {"k": 2}).fetchall()
    (source, coverage, bias) = rows[0]
    # Top-2 list of 'a' is x, w; w is not a trained item: 1 of 5 catalogue items shown.
    assert source == "m" and coverage == pytest.approx(1 / 5)
    # Popularity percentile: a 1.0, x 0.75, y 0.5, b 0.25, z 0; unknown w counts 0.
    # Query 'a' occurs in 2 pairs; both see [x, w]: (0.75 + 0) / 2.
    assert bias == pytest.approx(0.375)


def test_vocab_coverage_of_test_events():
    con = sqlrun.connect()
    con.execute(
        "create table events as select * from (values ('a', 'train'), ('a', 'test'), "
        "('b', 'test'), ('c', 'test'), ('a', 'test')) t(item_id, split)"
    )
    con.register("model_vocab", pa.table({"item_id": ["a", "b", "zz"]}))
    events, coverage = sqlrun.run(con, "evaluate_vocab_coverage").fetchone()
    assert (events, coverage) == (4, pytest.approx(3 / 4))


def test_popularity_never_recommends_the_query(con):
    sqlrun.run(con, "evaluate_popularity", {"k": 2})
    lists = con.execute(
        "select query_id, list(item_id order by rank) from candidates "
        "where source = 'popularity' group by 1 order by 1"
    ).fetchall()
    assert lists == [("a", ["x", "y"]), ("b", ["a", "x"]), ("c", ["a", "x"])]


def test_neighbours_never_include_self_even_for_duplicates():
    vectors = np.array([[1, 0], [1, 0], [0, 1], [0.9, 0.1]], dtype=np.float32)
    queries, indexed = index.spaces(vectors, vectors, "in_in")
    idx = index.build_exact(indexed)
    rows = np.arange(4)
    _, ids = index.neighbours_without_self(idx, queries, rows, 2)
    for row in rows:
        assert row not in ids[row]
    assert set(ids[1]) == {0, 3}
