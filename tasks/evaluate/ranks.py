"""Scoring lists given as vocabulary rows against the held-out cases, in numpy.

A search scores a few dozen list sets per trial (every channel weighting, every decay); as
Arrow tables through the hit SQL that took most of a trial, here it takes milliseconds. The
protocol is the evaluate stage's (evaluate/hits.sql: the session's earlier items removed
from the list, a target seen earlier in its session is a miss, a case without a list is a
miss) and a test checks that both give the same metrics.
"""

from __future__ import annotations

import duckdb
import numpy as np

from recsys import sqlrun
from recsys.model.embedding import Embedding


class Cases:
    """The cases of one task, in an embedding's rows.

    Parameters
    ----------
    lists
        For each case, the row of its list in the list sets it is scored with (-1: no list,
        a miss).
    target
        The target's vocabulary row per case (-1: unknown to the model, a miss).
    seen_case, seen_item
        The (case, vocabulary row) pairs of the items seen earlier in each case's session
        (rows of -1, items unknown to the model, can never be listed and are left out).
    """

    def __init__(
        self, lists: np.ndarray, target: np.ndarray, seen_case: np.ndarray, seen_item: np.ndarray
    ) -> None:
        self.lists = np.asarray(lists, dtype=np.int64)
        self.target = np.asarray(target, dtype=np.int64)
        self.width = int(max(self.target.max(initial=0), seen_item.max(initial=0))) + 1
        known = seen_item >= 0
        keys = seen_case[known].astype(np.int64) * self.width + seen_item[known]
        self.seen = np.unique(keys)
        own = np.arange(len(self.target)) * self.width + self.target
        self.repeat = (self.target >= 0) & np.isin(own, self.seen)

    def __len__(self) -> int:
        return len(self.target)

    def hit_ranks(self, ids: np.ndarray, exclude_seen: bool = True) -> np.ndarray:
        """Each case's rank of its target in its list once the session's earlier items are
        removed from it (`exclude_seen`); 0 for a miss."""
        padded = np.vstack([ids, np.full((1, ids.shape[1]), -1, ids.dtype)])
        rows = padded[np.where(self.lists >= 0, self.lists, len(ids))]
        found = (rows == self.target[:, None]) & (self.target[:, None] >= 0)
        hit = found.any(axis=1)
        position = found.argmax(axis=1)
        rank = position + 1
        if exclude_seen and len(self.seen):
            keys = np.arange(len(rows))[:, None] * self.width + np.clip(rows, 0, self.width - 1)
            spot = np.minimum(np.searchsorted(self.seen, keys), len(self.seen) - 1)
            seen = (self.seen[spot] == keys) & (rows >= 0) & (rows < self.width)
            before = np.arange(rows.shape[1])[None, :] < position[:, None]
            rank = rank - (seen & before).sum(axis=1)
            hit &= ~self.repeat
        return np.where(hit, rank, 0)

    def rates(self, ids: np.ndarray, ks: list[int], exclude_seen: bool = True) -> dict:
        """HR/MRR/NDCG@K of the list set `ids` (lists x depth, -1 padding)."""
        return rank_rates(self.hit_ranks(ids, exclude_seen), ks)


def rank_rates(ranks: np.ndarray, ks: list[int]) -> dict:
    """HR/MRR/NDCG@K of the cases' hit ranks (0: a miss)."""
    n = max(len(ranks), 1)
    out: dict[str, float] = {}
    for k in ks:
        got = ranks[(ranks > 0) & (ranks <= k)].astype(np.float64)
        out[f"hr@{k}"] = len(got) / n
        out[f"mrr@{k}"] = float((1.0 / got).sum()) / n
        out[f"ndcg@{k}"] = float((1.0 / np.log2(got + 1)).sum()) / n
    return out


def item_cases(con: duckdb.DuckDBPyConnection, emb: Embedding) -> tuple[Cases, np.ndarray]:
    """The next-item cases of `test_pairs` on `con`, and the query rows their lists are
    searched for (each known query item once; case c's list is row `lists[c]` of them)."""
    pairs = sqlrun.run(con, "evaluate/pair_rows").fetchnumpy()
    seen = sqlrun.run(con, "evaluate/pair_seen", idents={"cases": "test_pairs"}).fetchnumpy()
    query = emb.rows(pairs["query_id"].tolist())
    known = np.unique(query[query >= 0])
    lists = np.where(query >= 0, np.searchsorted(known, query), -1)
    return _cases(pairs, seen, emb, lists), known


def session_cases(con: duckdb.DuckDBPyConnection, emb: Embedding, queried: np.ndarray) -> Cases:
    """The cases of `session_cases` on `con`; `queried` are the pair ids whose lists were
    built, in list order (a case without a known recent item has no list)."""
    pairs = con.sql("select pair_id, target_id from session_cases").fetchnumpy()
    seen = sqlrun.run(con, "evaluate/pair_seen", idents={"cases": "session_cases"}).fetchnumpy()
    spot = np.searchsorted(queried, pairs["pair_id"])
    inside = spot < len(queried)
    listed = inside & (queried[np.minimum(spot, max(len(queried) - 1, 0))] == pairs["pair_id"])
    return _cases(pairs, seen, emb, np.where(listed, spot, -1))


def _cases(pairs: dict, seen: dict, emb: Embedding, lists: np.ndarray) -> Cases:
    order = np.argsort(pairs["pair_id"], kind="stable")
    seen_case = order[np.searchsorted(pairs["pair_id"][order], seen["pair_id"])]
    return Cases(
        lists,
        emb.rows(pairs["target_id"].tolist()),
        seen_case,
        emb.rows(seen["item_id"].tolist()),
    )
