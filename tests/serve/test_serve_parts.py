"""The server's parts without a published run: session queries, sparse lookups, the id
lookup, the report link of artifacts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recsys.model.embedding import Embedding
from recsys.serve.lookup import KeyedRows, RowLists
from recsys.serve.recall import count_entries, session_query
from recsys.stage import SERVE_URL, report_link


def test_session_query_is_the_exports_user_query():
    """Distinct known rows at their latest position, newest first, at most `history`."""
    rows = np.array([5, 7, -1, 5, 9, 7, 3])  # oldest first; -1 unknown
    query, recency = session_query(rows, history=3)
    assert query.tolist() == [3, 7, 9] and recency.tolist() == [0, 1, 2]
    query, _ = session_query(rows, history=10)
    assert query.tolist() == [3, 7, 9, 5]
    empty, recency = session_query(np.array([-1, -1]), history=5)
    assert empty.size == 0 and recency.size == 0


def test_count_entries_reads_what_sparse_slicing_reads():
    rng = np.random.default_rng(0)
    matrix = sp.random(50, 40, density=0.1, random_state=1, format="csr", dtype=np.float32)
    matrix.sort_indices()
    for _ in range(20):
        rows = rng.choice(50, size=rng.integers(1, 6), replace=False)
        cols = rng.choice(40, size=rng.integers(1, 10), replace=False)
        want = matrix[rows][:, cols].toarray()
        assert np.allclose(count_entries(matrix, rows, cols), want)
    empty = sp.csr_matrix((3, 4), dtype=np.float32)
    assert count_entries(empty, np.array([0, 2]), np.array([1, 3])).tolist() == [[0, 0], [0, 0]]


def test_keyed_rows_finds_each_key_in_an_unsorted_table():
    table = pa.table(
        {
            "key": ["b", "a", "c", "a", "b", "é"],
            "rank": [2, 2, 1, 1, 1, 1],
            "item": ["b2", "a2", "c1", "a1", "b1", "e1"],
        }
    )
    keyed = KeyedRows(table, "key")
    assert keyed.rows("a").column("item").to_pylist() == ["a1", "a2"]
    assert keyed.rows("b").column("item").to_pylist() == ["b1", "b2"]
    assert keyed.rows("é").column("item").to_pylist() == ["e1"]
    assert keyed.rows("d") is None and keyed.rows("") is None
    assert len(keyed) == 4


def test_row_lists_slice_each_items_list():
    ids = np.array(["a", "b", "c", "d"], dtype=object)
    emb = Embedding(np.zeros((4, 2), np.float32), ids)
    table = pa.table(
        {
            "key": ["c", "c", "a", "a", "a", "b", "b"],
            "rank": [1, 2, 1, 2, 3, 2, 1],  # b's entries out of order: sorted on load
            "item": ["a", "b", "b", "c", "d", "zz", "a"],  # b names an unknown item
            "score": [0.9, 0.5, 3.0, 2.0, 1.0, 0.1, 0.2],
            "source": ["x", "y", "x", "x+y", "y", "x", "y"],
        }
    )
    lists = RowLists(table, emb)
    items, scores, sources = lists.top(0, 2, np.array([], np.int64))
    assert items.tolist() == [1, 2] and scores.tolist() == [3.0, 2.0]
    assert sources.tolist() == ["x", "x+y"]
    items, _, _ = lists.top(0, 5, np.array([2]))
    assert items.tolist() == [1, 3]
    assert lists.top(1, 2, np.array([], np.int64)) is None  # lists an unknown item
    assert lists.top(3, 2, np.array([], np.int64)) is None  # no list
    assert lists.top(2, 9, np.array([], np.int64))[0].tolist() == [0, 1]


def test_report_links_point_at_the_server_when_its_url_is_set(monkeypatch, tmp_path):
    report = tmp_path / "runs" / "r1" / "report.html"
    monkeypatch.delenv(SERVE_URL, raising=False)
    assert report_link("r1", report) == f"file://{report}"
    monkeypatch.setenv(SERVE_URL, "http://recsys.internal:8000/")
    assert report_link("r1", report) == "http://recsys.internal:8000/runs/r1/report"
    # A refused run's report stays in its work folder, which the server does not serve.
    assert report_link("r1", report, published=False) == f"file://{report}"


def test_a_stop_lost_in_a_finalizer_still_stops_the_server(monkeypatch, capsys):
    """A SIGTERM handled inside a weakref callback or `__del__` raises where Python only
    prints "Exception ignored in ..." and goes on: CI saw `recsys serve` start and serve on
    after such a stop. The stop is remembered; the server honours it once it takes over."""
    import signal

    import uvicorn

    from recsys.serve import startup
    from recsys.serve.server import CleanServer

    monkeypatch.setattr(startup, "_requested", [])
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with startup.stoppable():

            class Dropped:
                def __del__(self) -> None:
                    signal.raise_signal(signal.SIGTERM)

            Dropped()  # freed at once: the handler runs inside __del__
        assert startup.stop_requested()
        assert "StopServing" not in capsys.readouterr().err
        server = CleanServer(uvicorn.Config(app=None))
        with server.capture_signals():
            assert server.should_exit
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    monkeypatch.setattr(startup, "_requested", [])
    fresh = CleanServer(uvicorn.Config(app=None))
    with fresh.capture_signals():
        assert not fresh.should_exit
