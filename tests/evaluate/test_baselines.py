"""The baselines' SQL on sessions whose lists are worked out by hand, the removal of the
session's items, and the numpy scorer of a search against the stage's hit SQL."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from recsys import sqlrun
from recsys.config import EvaluateConfig
from recsys.model.embedding import Embedding
from recsys.tasks.evaluate import baselines
from recsys.tasks.evaluate.hits import add_lists, open_cases, task_metrics
from recsys.tasks.evaluate.ranks import item_cases, session_cases
from recsys.tasks.evaluate.shards import ALL_SESSIONS

# Training sessions: s1 = a b c, s2 = a b, s3 = b a; held out: s4 = a c b.
SESSIONS = [(1, "train", "abc"), (2, "train", "ab"), (3, "train", "ba"), (4, "test", "acb")]


def _events(con) -> None:
    rows = [
        (session, pos, item, split, 1000 * session + pos, len(items))
        for session, split, items in SESSIONS
        for pos, item in enumerate(items, start=1)
    ]
    con.register(
        "rows",
        pa.table(
            dict(
                zip(
                    ["session", "pos", "item_id", "split", "t", "session_length"],
                    map(list, zip(*rows, strict=True)),
                    strict=True,
                )
            )
        ),
    )
    con.execute(
        "create table events as select session, pos, item_id, split, to_timestamp(t) as ts, "
        "session_length from rows"
    )
    con.execute(
        "create table items as select item_id, count(*) as train_count from events "
        "where split = 'train' group by item_id"
    )


@pytest.fixture
def con():
    con = sqlrun.connect()
    _events(con)
    sqlrun.run(con, "evaluate/wanted_items", {"sample_lo": 0, "sample_ppm": ALL_SESSIONS})
    return con


def _lists(con, source: str) -> dict[str, list[tuple[str, float]]]:
    rows = con.execute(
        "select query_id, item_id, score from candidates where source = ? order by query_id, rank",
        [source],
    ).fetchall()
    out: dict[str, list[tuple[str, float]]] = {}
    for query, item, score in rows:
        out.setdefault(query, []).append((item, round(score, 4)))
    return out


def test_rule_and_cooccurrence_lists_by_hand(con):
    cfg = EvaluateConfig.model_validate(
        {"baselines": {"sr": {"steps": 2, "weighting": "log", "both_directions": False}}}
    )
    baselines.item_lists(con, cfg, 5)
    # a -> b adjacent in s1 and s2; a -> c two apart in s1 (log weight 1/log2(3)).
    assert _lists(con, "sr")["a"] == [("b", 2.0), ("c", round(1 / math.log2(3), 4))]
    # Directed next item only: a -> b twice.
    assert _lists(con, "cooccurrence")["a"] == [("b", 1 * 2.0)]
    # Window of 5, both directions, weight 1: b is next to a in all three sessions.
    assert _lists(con, "cooc_window")["a"] == [("b", 3.0), ("c", 1.0)]
    # Popularity: b and a were trained 3 times, c once; never the query itself.
    assert [i for i, _ in _lists(con, "popularity")["a"]] == ["b", "c"]


@pytest.mark.parametrize(
    "rule",
    [
        {"steps": 1, "weighting": "same", "both_directions": False},
        {"steps": 3, "weighting": "log", "both_directions": True},
        {"steps": 4, "weighting": "linear", "both_directions": False},
        {"steps": 2, "weighting": "quadratic", "both_directions": True},
    ],
)
def test_one_rule_counted_directly_equals_the_per_distance_counts(rule):
    # Random sessions of 2-30 events over 15 items (long ones cross several blocks).
    rng = np.random.default_rng(7)
    rows = [
        (s, p, f"i{rng.integers(0, 15)}", "train")
        for s in range(60)
        for p in range(1, int(rng.integers(2, 31)))
    ]
    con = sqlrun.connect()
    names = ["session", "pos", "item_id", "split"]
    con.register(
        "rows", pa.table(dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)))
    )
    con.execute("create table events as select * from rows")
    con.execute("create temp table wanted_items as select distinct item_id from events")
    cfg = EvaluateConfig.model_validate({"baselines": {"sr": rule}})
    baselines.item_lists(con, cfg, 10, sources=["sr", "cooccurrence"])  # per distance
    shared = _lists(con, "sr")
    baselines.item_lists(con, cfg, 10, sources=["sr"])  # directly
    assert _lists(con, "sr") == shared and len(shared) == 15


def test_iknn_is_cosine_of_session_sets_with_shrinkage(con):
    for shrink in (0.0, 2.0):
        cfg = EvaluateConfig.model_validate({"baselines": {"iknn_shrink": shrink}})
        baselines.item_lists(con, cfg, 5, sources=["iknn"])
        # a and b share all 3 sessions (3 / (3 + shrink)); a and c share s1 (1 / (sqrt 3 + s)).
        got = dict(_lists(con, "iknn")["a"])
        assert got == {"b": round(3 / (3 + shrink), 4), "c": round(1 / (math.sqrt(3) + shrink), 4)}


def test_session_baselines_by_hand(con):
    cfg = EvaluateConfig.model_validate(
        {"baselines": {"session_items": 2, "session_decay": 0.5, "vsknn_neighbours": 2}}
    )
    baselines.item_lists(con, cfg, 5)
    sqlrun.run(
        con, "evaluate/pairs", {"lo": None, "hi": None, "sample_lo": 0, "sample_ppm": ALL_SESSIONS}
    )
    sqlrun.run(con, "evaluate/session_cases", {"max_cases": 100})
    sqlrun.run(con, "evaluate/session_prefix")
    sqlrun.run(con, "evaluate/session_lists")
    baselines.session_lists(con, cfg, 5)
    lists = {}
    for source, query, item, score in con.execute(
        "select source, query_id, item_id, score from session_candidates order by source, "
        "query_id, rank"
    ).fetchall():
        lists.setdefault((source, query), []).append((item, round(score, 4)))
    pairs = dict(con.execute("select pos, pair_id from test_pairs").fetchall())
    second = str(pairs[3])  # the case 'a c -> b': its prefix is c (newest) then a
    # sr_prefix: c's SR list (b 1 / log2(2) ... normalised) plus 0.5 x a's normalised list.
    sr = _lists(con, "sr")
    a_best, c_best = sr["a"][0][1], sr["c"][0][1]
    expected: dict[str, float] = {}
    for item, score in sr["c"]:
        expected[item] = expected.get(item, 0) + score / c_best
    for item, score in sr["a"]:
        expected[item] = expected.get(item, 0) + 0.5 * score / a_best
    got = dict(lists[("sr_prefix", second)])
    assert got == pytest.approx({k: round(v, 4) for k, v in expected.items()}, abs=1e-4)
    # V-SKNN: c (weight 1) is only in s1, a (weight 1 - 1/2) is in s1, s2, s3; the two most
    # similar sessions are s1 (1.5) and one of s2, s3 (0.5 each; both hold a and b).
    vsknn = dict(lists[("vsknn", second)])
    assert vsknn == {"a": 2.0, "b": 2.0, "c": 1.5}
    # S-POP: the session's own items first, then popularity.
    assert [i for i, _ in lists[("spop", second)]][:2] == ["a", "c"]


def test_the_sessions_items_are_removed_before_ranking(con):
    # One case, a c -> b: a list for c of [a, x, b] ranks b 2nd once a (seen) is removed.
    sqlrun.run(
        con, "evaluate/pairs", {"lo": None, "hi": None, "sample_lo": 0, "sample_ppm": ALL_SESSIONS}
    )
    sqlrun.run(con, "evaluate/candidates")
    con.execute(
        "insert into candidates values ('m', 'c', 1, 'a', 3.0), ('m', 'c', 2, 'x', 2.0), "
        "('m', 'c', 3, 'b', 1.0), ('m', 'a', 1, 'c', 1.0)"
    )
    tables = {"cases": "test_pairs", "lists": "candidates", "hits": "hits"}
    for exclude, rank in ((True, 2), (False, 3)):
        sqlrun.run(con, "evaluate/hits", {"exclude_seen": exclude}, tables)
        hits = dict(
            con.execute(
                "select t.query_id, h.hit_rank from hits as h "
                "inner join test_pairs as t on h.pair_id = t.pair_id"
            ).fetchall()
        )
        assert hits == {"c": rank, "a": 1}


def test_a_target_seen_earlier_in_its_session_is_a_miss(tmp_path):
    con = sqlrun.connect()
    con.execute(
        "create table events as select * from (values (1, 1, 'a', 'test'), (1, 2, 'b', 'test'), "
        "(1, 3, 'a', 'test')) t(session, pos, item_id, split)"
    )
    con.execute(
        "create table test_pairs as select * from (values (1, 1, 3, 'b', 'a', 3)) "
        "t(pair_id, session, pos, query_id, target_id, session_length)"
    )
    sqlrun.run(con, "evaluate/candidates")
    con.execute("insert into candidates values ('m', 'b', 1, 'a', 1.0)")
    tables = {"cases": "test_pairs", "lists": "candidates", "hits": "hits"}
    sqlrun.run(con, "evaluate/hits", {"exclude_seen": True}, tables)
    assert con.execute("select count(*) from hits").fetchone()[0] == 0


def test_numpy_scoring_agrees_with_the_hit_sql(tmp_path, planted_stage):
    """A search scores with numpy (tasks/evaluate/ranks.py), the stage with SQL: random lists
    over the planted stage's held-out cases give the same metrics both ways."""
    stage_db, items = planted_stage
    emb = Embedding(np.zeros((len(items), 2), np.float32), np.asarray(items, dtype=object))
    rng = np.random.default_rng(1)
    with open_cases(stage_db, 300) as con:
        cases, queries = item_cases(con, emb)
        prefix = con.sql("select distinct pair_id from session_prefix order by 1").fetchnumpy()
        sessions = session_cases(con, emb, prefix["pair_id"])
        item_ids = rng.permutation(len(items))[None, :].repeat(len(queries), 0)[:, :30]
        session_ids = rng.integers(0, len(items), (len(prefix["pair_id"]), 30))
        session_ids = np.array([np.unique(r)[:20] for r in session_ids])
        add_lists(con, "m", _table(queries, item_ids, items), session=False)
        add_lists(
            con,
            "m",
            _table(prefix["pair_id"].astype(str), session_ids, items, raw=True),
            session=True,
        )
        for session, ids, got in (
            (False, item_ids, cases),
            (True, session_ids, sessions),
        ):
            sql = task_metrics(con, [5, 20], True, session=session)["m"]
            assert got.rates(ids, [5, 20]) == pytest.approx(sql)


def _table(keys, ids, items, raw: bool = False) -> pa.Table:
    width = ids.shape[1]
    keys = keys if raw else np.asarray(items, dtype=object)[keys]
    return pa.table(
        {
            "query_id": pa.array(np.repeat(np.asarray(keys, dtype=object), width).tolist()),
            "rank": pa.array(np.tile(np.arange(1, width + 1), len(ids))),
            "item_id": pa.array(np.asarray(items, dtype=object)[ids.ravel()].tolist()),
            "score": pa.array(-np.tile(np.arange(1, width + 1), len(ids)).astype(float)),
        }
    )


@pytest.fixture
def planted_stage(tmp_path, planted_events):
    from recsys.config import PipelineConfig
    from recsys.layout import RunPaths
    from recsys.tasks.extract import extract

    paths = RunPaths.new(tmp_path / "data", str(planted_events))
    extract(paths, PipelineConfig())
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        items = [
            r[0] for r in con.execute("select distinct item_id from events order by 1").fetchall()
        ]
    return paths.stage_db, items
