"""The count channel of `recsys.model.scoring`: each item's top neighbours under a count
baseline (sequential rules by default), a session's list the decay-weighted sum of its
items' lists, and the top-k of sparse rows that both it and session-kNN rank with.

A batch of queries is one sparse product; a single query (a server's request) takes a 1-D
path that adds the same float32 products in the same order, so a live answer and the
export's list are the same bits (tests/model/test_scoring.py)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class CountLists:
    """A count channel: each item row's top neighbours with scores normalised by the row's
    best (so every item's list peaks at 1 and a session's sum is not dominated by one
    popular item), kept as a sparse (items x items) matrix."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, score: np.ndarray, n: int) -> None:
        matrix = sp.csr_matrix(
            (np.asarray(score, np.float32), (np.asarray(src), np.asarray(dst))), shape=(n, n)
        )
        matrix.sum_duplicates()
        best = matrix.max(axis=1).toarray().ravel()
        best[best <= 0] = 1.0
        self.matrix = sp.csr_matrix(sp.diags(1.0 / best).astype(np.float32) @ matrix)
        self.n = n

    def query(
        self, owner: np.ndarray, rows: np.ndarray, weights: np.ndarray, n_queries: int, depth: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores), (n_queries, depth): for each query the top `depth` items of the
        weighted sum of its items' lists (a query of one item is that item's list)."""
        rows = np.asarray(rows)
        if n_queries == 1:
            order = np.argsort(rows, kind="stable")
            if (np.diff(rows[order]) != 0).all():  # a repeated row: the sparse product sums
                return self._one(rows[order], np.asarray(weights, np.float32)[order], depth)
        w = sp.csr_matrix(
            (np.asarray(weights, np.float32), (np.asarray(owner), np.asarray(rows))),
            shape=(n_queries, self.n),
        )
        return top_of_sparse(sp.csr_matrix(w @ self.matrix), depth)

    def _one(self, rows: np.ndarray, weights: np.ndarray, depth: int):
        """`query` for one query of distinct rows in ascending order, without sparse
        matrices (a server answers one list per request; the sparse path costs ~1 ms of
        overhead): the same float32 products added in the same order as the sparse product
        (summing a (rows x columns) block over axis 0 adds row after row), ranked as
        `top_of_sparse`."""
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        starts = indptr[rows]
        lengths = indptr[rows + 1] - starts
        at = np.arange(int(lengths.sum())) + np.repeat(
            starts - (np.cumsum(lengths) - lengths), lengths
        )
        cols = indices[at].astype(np.int64)
        by_col = np.argsort(cols, kind="stable")
        cols = cols[by_col]
        first = np.ones(len(cols), dtype=bool)
        first[1:] = cols[1:] != cols[:-1]
        block = np.zeros((len(rows), int(first.sum())), np.float32)
        owner = np.repeat(np.arange(len(rows)), lengths)[by_col]
        block[owner, np.cumsum(first) - 1] = (data[at] * np.repeat(weights, lengths))[by_col]
        cols, vals = cols[first], block.sum(axis=0)
        listed = vals != 0  # the sparse product stores no zero sums
        cols, vals = cols[listed], vals[listed]
        top = np.argsort(-vals, kind="stable")[:depth]  # columns ascending: ties by column
        ids = np.full((1, depth), -1, np.int64)
        scores = np.zeros((1, depth), np.float32)
        ids[0, : len(top)], scores[0, : len(top)] = cols[top], vals[top]
        return ids, scores


# Entries of a dense block `top_of_sparse` works on at once (ids + scores: ~50 MB), so a few
# very long rows (session-kNN's candidate sessions) do not make every row that wide.
TOP_BLOCK = 4_000_000


def top_of_sparse(matrix: sp.csr_matrix, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's `depth` largest entries (ids -1 where a row has fewer), best first, ties
    by the smaller column; rows are taken in blocks of about TOP_BLOCK entries."""
    lengths = np.diff(matrix.indptr)
    width = max(int(lengths.max(initial=0)), 1)
    step = max(1, TOP_BLOCK // width)
    if matrix.shape[0] <= step:
        return _top_block(matrix, depth)
    parts = [_top_block(matrix[i : i + step], depth) for i in range(0, matrix.shape[0], step)]
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])


def _top_block(matrix: sp.csr_matrix, depth: int) -> tuple[np.ndarray, np.ndarray]:
    n = matrix.shape[0]
    lengths = np.diff(matrix.indptr)
    width = max(int(lengths.max(initial=0)), 1)
    ids = np.full((n, width), -1, np.int64)
    vals = np.full((n, width), -np.inf, np.float32)
    row = np.repeat(np.arange(n), lengths)
    col = np.arange(len(matrix.indices)) - np.repeat(matrix.indptr[:-1], lengths)
    ids[row, col] = matrix.indices
    vals[row, col] = matrix.data
    if width > depth:
        # Keep every entry at least as good as the depth-th best, so ties at the cut are
        # settled by column below rather than by the partition's order.
        cut = -np.partition(-vals, depth - 1, axis=1)[:, depth - 1 : depth]
        keep = vals >= cut
        width = max(int(keep.sum(axis=1).max()), 1)
        order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
        ids = np.take_along_axis(ids, order, 1)
        vals = np.take_along_axis(vals, order, 1)
    order = np.lexsort((np.where(ids >= 0, ids, np.iinfo(np.int64).max), -vals), axis=1)
    order = order[:, :depth]
    ids = np.take_along_axis(ids, order, 1)
    vals = np.take_along_axis(vals, order, 1)
    vals[ids < 0] = 0.0
    if ids.shape[1] < depth:
        pad = ((0, 0), (0, depth - ids.shape[1]))
        ids, vals = np.pad(ids, pad, constant_values=-1), np.pad(vals, pad)
    return ids, vals
