"""Metric definitions on candidate lists whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from recsys import sqlrun
from recsys.model import index
from recsys.tasks.evaluate import shards

PAIRS = (
    "create table test_pairs as select * from (values (1, 1, 2, 'a', 'x', 3), "
    "(2, 2, 2, 'a', 'y', 9), (3, 3, 2, 'b', 'z', 9), (4, 4, 2, 'c', 'q', 9)) "
    "t(pair_id, session, pos, query_id, target_id, session_length)"
)
# Each case's session: its query at position 1 (removed from every list before scoring, and
# never in one), its target at position 2.
EVENTS = (
    "create table events as select session, 1 as pos, query_id as item_id, 'test' as split "
    "from test_pairs union all select session, 2, target_id, 'test' from test_pairs"
)
ITEMS = (
    "create table items as select * from (values (0, 'a', 50), (1, 'x', 40), "
    "(2, 'y', 30), (3, 'b', 20), (4, 'z', 10)) t(token, item_id, train_count)"
)
LISTS = (
    "insert into candidates values ('m', 'a', 1, 'x', 3.0), ('m', 'a', 2, 'w', 2.0), "
    "('m', 'a', 3, 'y', 1.0)"
)
HITS = {"cases": "test_pairs", "lists": "candidates", "hits": "hits"}


@pytest.fixture
def con():
    con = sqlrun.connect()
    # Pairs: a->x (short session), a->y, b->z (long sessions), c->q (q never trained: cold).
    con.execute(PAIRS)
    # Catalogue of 5 trained items, most trained first: a, x, y, b, z.
    con.execute(ITEMS)
    sqlrun.run(con, "evaluate/candidates")
    con.execute(LISTS)
    return con


def _metrics(tmp_path, ks, k_gate, split_at=None):
    """The shard SQL + combine on the pairs above, as one shard or split by query id."""
    stage = tmp_path / "stage.duckdb"
    with sqlrun.connect(stage) as con:
        con.execute(PAIRS)
        con.execute(ITEMS)
        con.execute(EVENTS)
    bounds = [(None, None)] if split_at is None else [(None, split_at), (split_at, None)]
    parts = []
    for i, (lo, hi) in enumerate(bounds):
        with sqlrun.connect(stage, read_only=True) as con:
            keep = "(? is null or query_id >= ?) and (? is null or query_id < ?)"
            con.execute(
                f"create temp table test_pairs as select * from main.test_pairs where {keep}",
                [lo, lo, hi, hi],
            )
            sqlrun.run(con, "evaluate/candidates")
            con.execute(LISTS)
            con.execute(f"delete from candidates where not ({keep})", [lo, lo, hi, hi])
            sqlrun.run(con, "evaluate/hits", {"exclude_seen": True}, HITS)
            params = {"head_share": 0.4, "short_max": 5}
            parts.append(
                shards.count(con, k_gate, **params, shown_path=tmp_path / f"shown-{i}.parquet")
            )
    return shards.combine(stage, parts, f"{tmp_path}/shown-*.parquet", ks, k_gate)


@pytest.mark.parametrize("split_at", [None, "b"])
def test_hr_mrr_ndcg_by_hand(tmp_path, split_at):
    got = _metrics(tmp_path, [1, 3], 3, split_at)["models"]["m"]
    # Hits: x at rank 1, y at rank 3, z and q never (queries b, c have no candidates).
    assert (got["hr@1"], got["mrr@1"], got["ndcg@1"]) == pytest.approx((1 / 4, 1 / 4, 1 / 4))
    assert (got["hr@3"], got["mrr@3"], got["ndcg@3"]) == pytest.approx(
        (2 / 4, (1 + 1 / 3) / 4, (1 + 1 / math.log2(4)) / 4)
    )


@pytest.mark.parametrize("split_at", [None, "b"])
def test_slices_by_hand(tmp_path, split_at):
    rows = _metrics(tmp_path, [3], 3, split_at)["slices"]
    got = {(r["dimension"], r["slice"]): (r["pairs"], r["hr@3"]) for r in rows}
    # Head = the 2 most trained items (a, x); y, z are tail; q is cold.
    assert got[("target_item", "head")] == (1, pytest.approx(1.0))
    assert got[("target_item", "tail")] == (2, pytest.approx(0.5))
    assert got[("target_item", "cold")] == (1, pytest.approx(0.0))
    assert got[("session", "short")] == (1, pytest.approx(1.0))
    assert got[("session", "long")] == (3, pytest.approx(1 / 3))
    # Query c was never trained: its pair is the only cold-query case.
    assert got[("query_item", "cold")] == (1, pytest.approx(0.0))
    assert got[("query_item", "trained")] == (3, pytest.approx(2 / 3))


@pytest.mark.parametrize("split_at", [None, "b"])
def test_coverage_and_popularity_bias_by_hand(tmp_path, split_at):
    got = _metrics(tmp_path, [2], 2, split_at)["models"]["m"]
    # Top-2 list of 'a' is x, w; w is not a trained item: 1 of 5 catalogue items shown.
    assert got["coverage@2"] == pytest.approx(1 / 5)
    # Popularity percentile: a 1.0, x 0.75, y 0.5, b 0.25, z 0; unknown w counts 0.
    # Query 'a' occurs in 2 pairs; both see [x, w]: (0.75 + 0) / 2.
    assert got["popularity_bias@2"] == pytest.approx(0.375)


def test_vocab_coverage_of_test_events():
    con = sqlrun.connect()
    con.execute(
        "create table events as select * from (values ('a', 'train'), ('a', 'test'), "
        "('b', 'test'), ('c', 'test'), ('a', 'test')) t(item_id, split)"
    )
    con.register("model_vocab", pa.table({"item_id": ["a", "b", "zz"]}))
    events, coverage = sqlrun.run(con, "evaluate/vocab_coverage").fetchone()
    assert (events, coverage) == (4, pytest.approx(3 / 4))


def test_popularity_never_recommends_the_query(con):
    con.execute(
        "create temp table wanted_items as select distinct query_id as item_id from test_pairs"
    )
    sqlrun.run(con, "evaluate/popularity", {"depth": 2})
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


def test_max_cases_draws_whole_sessions_repeatably():
    con = sqlrun.connect()
    # 2,000 held-out sessions of 5 events (4 cases each) and one training session.
    con.execute(
        "create table events as select s as session, p as pos, 'i' || ((s * 7 + p) % 50) "
        "as item_id, 'test' as split, 5 as session_length "
        "from range(2000) a(s), range(1, 6) b(p) "
        "union all select 99999, 1, 'i1', 'train', 2"
    )
    share = lambda cases: sqlrun.run(  # noqa: E731
        con, "evaluate/sample_share", {"max_cases": cases}
    ).fetchone()[0]
    assert share(None) == share(8000) == shards.ALL_SESSIONS
    ppm = share(800)
    assert ppm == 100_000
    sqlrun.run(con, "evaluate/pairs", {"lo": None, "hi": None, "sample_lo": 0, "sample_ppm": ppm})
    pairs = con.execute("select count(*), count(distinct session) from test_pairs").fetchone()
    assert 600 < pairs[0] < 1000 and pairs[0] == 4 * pairs[1]  # whole sessions only
    sessions = con.execute("select list(distinct session order by session) from test_pairs")
    drawn = sessions.fetchone()[0]
    sqlrun.run(con, "evaluate/wanted_items", {"sample_lo": 0, "sample_ppm": ppm})
    wanted = {r[0] for r in con.execute("select item_id from wanted_items").fetchall()}
    in_drawn = con.execute(
        "select distinct item_id from events where split = 'test' and list_contains(?, session)",
        [drawn],
    ).fetchall()
    assert wanted == {r[0] for r in in_drawn}
    sqlrun.run(con, "evaluate/pairs", {"lo": None, "hi": None, "sample_lo": 0, "sample_ppm": ppm})
    again = con.execute("select list(distinct session order by session) from test_pairs")
    assert again.fetchone()[0] == drawn
