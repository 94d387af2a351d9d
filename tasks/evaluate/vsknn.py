"""V-SKNN (Ludewig & Jannach 2018): session-kNN with position decay, as sparse matrix products.

A training session is a neighbour of a case by the summed weights of the items they share
(the case's item i steps back weighing 1 - i/`session_items`); candidates are the
`vsknn_sample` most recent training sessions of each of the case's items, the
`vsknn_neighbours` most similar vote, and an item scores the summed similarity of the
neighbours that hold it. The inputs come from SQL (evaluate/vsknn_*.sql); the neighbour
search is two sparse products here, because as a SQL join it was 4-5x slower on ml-100k
(cases x items x sampled sessions rows).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recsys import sqlrun
from recsys.config import EvaluateConfig
from recsys.model.counts import top_of_sparse


def vsknn_lists(con: duckdb.DuckDBPyConnection, cfg: EvaluateConfig, depth: int) -> pa.Table:
    """(query_id, rank, item_id, score) per case of `session_cases` (query_id = pair id)."""
    b = cfg.baselines
    params = {"items": b.session_items, "sample": b.vsknn_sample}
    sqlrun.run(con, "evaluate/vsknn_sessions", params)
    sqlrun.run(con, "evaluate/vsknn_codes", params)
    prefix = sqlrun.run(con, "evaluate/vsknn_prefix", params).fetchnumpy()
    sessions = sqlrun.run(con, "evaluate/vsknn_session_rows").fetchnumpy()
    empty = pa.table(
        {
            "query_id": pa.array([], pa.string()),
            "rank": pa.array([], pa.int64()),
            "item_id": pa.array([], pa.string()),
            "score": pa.array([], pa.float64()),
        }
    )
    if len(prefix["pair_id"]) == 0 or len(sessions["session"]) == 0:
        return empty
    items = np.asarray(
        [r[0] for r in sqlrun.run(con, "evaluate/vsknn_names").fetchall()], dtype=object
    )
    s_item, p_item = sessions["code"], prefix["code"]
    session_ids, s_row = np.unique(sessions["session"], return_inverse=True)
    recent = _most_recent(s_item, s_row, sessions["started"], b.vsknn_sample)
    # items x sessions: each item's sampled candidate sessions; sessions x items: their sets
    sampled = sp.csr_matrix(
        (np.ones(recent.sum(), np.float32), (s_item[recent], s_row[recent])),
        shape=(len(items), len(session_ids)),
    )
    holds = sp.csr_matrix(
        (np.ones(len(s_row), np.float32), (s_row, s_item)), shape=(len(session_ids), len(items))
    )
    cases, p_case = np.unique(prefix["pair_id"], return_inverse=True)
    query = sp.csr_matrix(
        (prefix["w"].astype(np.float32), (p_case, p_item)), shape=(len(cases), len(items))
    )
    ids, sims = top_of_sparse(sp.csr_matrix(query @ sampled), b.vsknn_neighbours)
    valid = ids >= 0
    votes = sp.csr_matrix(
        (sims[valid], (np.nonzero(valid)[0], ids[valid])), shape=(len(cases), len(session_ids))
    )
    top, scores = top_of_sparse(sp.csr_matrix(votes @ holds), depth)
    found = top >= 0
    width = top.shape[1]
    return pa.table(
        {
            "query_id": pa.array(np.repeat(cases.astype(str), width)[found.ravel()], pa.string()),
            "rank": pa.array(
                np.tile(np.arange(1, width + 1), len(cases))[found.ravel()], pa.int64()
            ),
            "item_id": pa.array(items[top[found]].tolist(), pa.string()),
            "score": pa.array(scores[found].astype(np.float64), pa.float64()),
        }
    )


def _most_recent(item: np.ndarray, session: np.ndarray, started: np.ndarray, n: int) -> np.ndarray:
    """Mask of the (item, session) rows among each item's `n` most recent sessions (newest
    start first, then the higher session number)."""
    order = np.lexsort((-session, -np.asarray(started, dtype=np.float64), item))
    first = np.r_[0, np.flatnonzero(np.diff(item[order])) + 1]
    sizes = np.diff(np.r_[first, len(order)])
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(first, sizes)
    return rank < n
