"""How recommendation lists are scored and fused: the one place for the score function.

Three channels answer a query (one item, or the recent items of a session or a user):

- ``item2vec``: the embedding, searched in FAISS in the run's scoring space
  (`recsys.model.index.spaces`); a session's query vector is the decay-weighted sum of its
  items' query vectors.
- a count channel, sequential rules mined from the training sessions (``sr``, or the other
  count baselines; `tasks/evaluate/baselines.py` computes them in SQL): each item's list is
  normalised by its best score, and a session's list is the decay-weighted sum of its items'
  lists (the whole-prefix variant of SR, Ludewig & Jannach 2018).
- ``popularity``: the most frequent items, scored by log count.

Within one query's list each channel's scores are min-max normalised and the channels are
added with their weights (CombSUM, Fox & Shaw 1994): an item missing from a channel's list
gets 0 there. Weights are per list kind (item lists, session/user lists) and are chosen by
`recsys tune` on the validation split; with a weight of 0 a channel is not consulted, except
popularity, which then continues a list the others leave short (`fuse`).
Evaluation, export and serving all call `fuse`, so they rank identically.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from recsys.model.counts import CountLists
from recsys.model.index import neighbours_without_self, search

EMBEDDING, COUNT, POPULARITY = 0, 1, 2  # channel positions (bit c of a `sources` mask)


def fuse(
    channels: list[tuple[np.ndarray, np.ndarray]], weights: tuple[float, ...], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fused top-k of each query row.

    Parameters
    ----------
    channels
        One (ids, scores) pair per channel, both (n_queries, depth); -1 pads a short list and
        an id appears at most once in a row. Channels may have different depths.
    weights
        One weight per channel; a channel of weight 0 is not fused. The popularity channel,
        given with weight 0, still fills a list that the others leave short: its items
        follow every fused one, in popularity order, scored 0 (a count channel lists only
        the items seen with the query; a baseline continued by popularity gained 1.8% of
        HR@20 on a basket log over the same lists cut short).
    k
        Length of the fused lists.

    Returns
    -------
    ids (n, k) with -1 padding, fused scores (n, k) and per entry a bit mask of the channels
    that listed the item (bit c = channel c; a fill entry has the popularity bit). Ties are
    broken by the smaller id, so a list does not depend on the order of the channels.
    """
    n = channels[0][0].shape[0] if channels else 0
    used = [(c, i, s, w) for c, ((i, s), w) in enumerate(zip(channels, weights, strict=True))]
    used = [u for u in used if u[3] > 0 and u[1].shape[1] > 0]
    fill = _fill_channel(channels, weights)
    if (not used and fill is None) or n == 0 or k <= 0:
        return _empty(n, k)
    # Fill entries rank after every fused one: needless when one fused channel alone lists
    # k items in every row (the embedding, always, on the export's hot path).
    if fill is not None and not any(((u[1] >= 0).sum(axis=1) >= k).all() for u in used):
        used.append((POPULARITY, fill[0], fill[1], None))
    if n == 1:
        return _fuse_one(used, k)
    ids = np.concatenate([u[1] for u in used], axis=1).astype(np.int64, copy=False)
    score = np.concatenate([_entry_scores(u) for u in used], axis=1)
    bits = np.concatenate([np.where(u[1] >= 0, 1 << u[0], 0) for u in used], axis=1)
    fused = np.concatenate([np.full(u[1].shape, u[3] is not None) for u in used], axis=1)
    order = np.argsort(ids, axis=1, kind="stable")
    ids = np.take_along_axis(ids, order, 1)
    score = np.take_along_axis(score, order, 1)
    bits = np.take_along_axis(bits, order, 1)
    fused = np.take_along_axis(fused, order, 1)
    width = ids.shape[1]
    first = ids >= 0
    first[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    group = np.cumsum(first, axis=1) - 1
    slot = (np.arange(n)[:, None] * width + np.maximum(group, 0)).ravel()
    valid = (ids >= 0).ravel()
    total, mask = _group_totals(slot, valid, score.ravel(), bits.ravel(), fused.ravel(), n * width)
    total = total.reshape(n, width)
    mask = mask.reshape(n, width)
    item = np.full((n, width), -1, np.int64)
    item[np.nonzero(first)[0], group[first]] = ids[first]
    kk = min(k, width)
    top = np.argpartition(-total, kk - 1, axis=1)[:, :kk]
    cut = np.take_along_axis(total, top, 1).min(axis=1, keepdims=True)
    ties = (total == cut).sum(axis=1) > (np.take_along_axis(total, top, 1) == cut).sum(axis=1)
    if ties.any():
        # An item tied with the last kept one may have been partitioned out: rank those rows
        # whole, so ties are settled by the smaller id at the cut too.
        top[ties] = np.lexsort((item[ties], -total[ties]), axis=1)[:, :kk]
    top_total = np.take_along_axis(total, top, 1)
    top_item = np.take_along_axis(item, top, 1)
    top = np.take_along_axis(top, np.lexsort((top_item, -top_total), axis=1), 1)
    out_ids = np.take_along_axis(item, top, 1)
    out_scores = np.take_along_axis(total, top, 1)
    out_mask = np.take_along_axis(mask, top, 1)
    missing = ~np.isfinite(out_scores)
    out_ids[missing], out_scores[missing], out_mask[missing] = -1, 0.0, 0
    out_scores[out_scores < 0] = 0.0  # fill entries (FILL_OFFSET below every fused score)
    if kk < k:
        pad = ((0, 0), (0, k - kk))
        out_ids = np.pad(out_ids, pad, constant_values=-1)
        out_scores, out_mask = np.pad(out_scores, pad), np.pad(out_mask, pad)
    return out_ids, out_scores.astype(np.float32), out_mask


# Where fill entries rank: their normalised popularity (0..1) this far below every fused
# score (fused scores are sums of non-negative weighted min-max scores, so never below 0).
FILL_OFFSET = 10.0


def _fill_channel(
    channels: list[tuple[np.ndarray, np.ndarray]], weights: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The popularity channel when it fills rather than fuses (given, weight 0), else None."""
    if len(channels) <= POPULARITY or weights[POPULARITY] > 0:
        return None
    ids, scores = channels[POPULARITY]
    return (ids, scores) if ids.shape[1] > 0 else None


def _entry_scores(used: tuple) -> np.ndarray:
    """A channel's entries as `fuse` adds them: min-max score times weight (float32), or a
    fill channel's min-max score alone."""
    _, ids, scores, weight = used
    normalised = minmax(ids, scores)
    return normalised if weight is None else normalised * np.float32(weight)


def _group_totals(
    slot: np.ndarray,
    valid: np.ndarray,
    score: np.ndarray,
    bits: np.ndarray,
    fused: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Each group's fused score (float64 sums of float32 entries) and channel bits; a group
    only a fill channel lists gets its fill score less FILL_OFFSET; an empty one -inf."""
    real, filled = valid & fused, valid & ~fused
    total = np.bincount(slot[real], weights=score[real], minlength=size)
    # Each channel lists an item once, so adding distinct bits is their bitwise or.
    mask = np.bincount(slot[real], weights=bits[real], minlength=size).astype(np.int64)
    listed = np.bincount(slot[real], minlength=size) > 0
    fill = np.bincount(slot[filled], weights=score[filled], minlength=size)
    fill_only = ~listed & (np.bincount(slot[filled], minlength=size) > 0)
    total = np.where(listed, total, np.where(fill_only, fill - FILL_OFFSET, -np.inf))
    mask = np.where(fill_only, 1 << POPULARITY, mask)
    return total, mask


def _fuse_one(used: list, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`fuse` of a single query row (a server's request) with 1-D operations: the same sums
    in the same order (entries grouped by id, channel order kept), the same ranking (score
    desc, then the smaller id), so the same lists; the general path spends most of a
    one-row call on per-call overhead of its 2-D gathers."""
    listed = [(c, i[0][i[0] >= 0], s[0][i[0] >= 0], w) for c, i, s, w in used]
    ids = np.concatenate([i for _, i, _, _ in listed]).astype(np.int64, copy=False)
    score = np.concatenate(
        [_minmax_listed(s) * (np.float32(1) if w is None else np.float32(w)) for *_, s, w in listed]
    )
    bits = np.repeat([1 << c for c, *_ in listed], [len(i) for _, i, _, _ in listed])
    fused = np.repeat([w is not None for *_, w in listed], [len(i) for _, i, _, _ in listed])
    order = np.argsort(ids, kind="stable")
    ids, score, bits, fused = ids[order], score[order], bits[order], fused[order]
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    group = np.cumsum(first) - 1
    size = int(first.sum())
    total, mask = _group_totals(group, np.ones(len(ids), bool), score, bits, fused, size)
    item = ids[first]
    top = np.lexsort((item, -total))[:k]
    out_ids = np.full((1, k), -1, np.int64)
    out_scores = np.zeros((1, k), np.float32)
    out_mask = np.zeros((1, k), np.int64)
    out_ids[0, : len(top)] = item[top]
    out_scores[0, : len(top)] = np.maximum(total[top], 0.0)
    out_mask[0, : len(top)] = mask[top]
    return out_ids, out_scores, out_mask


def _empty(n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = max(k, 0)
    return np.full((n, k), -1, np.int64), np.zeros((n, k), np.float32), np.zeros((n, k), np.int64)


def minmax(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Scores of each row scaled to [0, 1] over its listed ids; a row whose listed scores are
    all equal scales to 1 (the channel has no preference among them, but did list them)."""
    valid = ids >= 0
    s = scores.astype(np.float32, copy=False)
    lo = np.where(valid, s, np.inf).min(axis=1, keepdims=True)
    hi = np.where(valid, s, -np.inf).max(axis=1, keepdims=True)
    span = hi - lo
    flat = ~np.isfinite(span) | (span <= 0)
    scaled = np.where(flat, np.float32(1), (s - lo) / np.where(flat, np.float32(1), span))
    return np.where(valid, scaled, 0).astype(np.float32)


def _minmax_listed(scores: np.ndarray) -> np.ndarray:
    """`minmax` of one row's listed scores (no padding), in the same float32 operations."""
    s = scores.astype(np.float32, copy=False)
    if len(s) == 0:
        return s
    lo, hi = s.min(), s.max()
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        return np.ones(len(s), np.float32)
    return ((s - lo) / span).astype(np.float32, copy=False)


def source_labels(mask: np.ndarray, names: tuple[str, str, str]) -> np.ndarray:
    """`source` of each fused entry: the channels that listed it, joined by '+' in channel
    order (e.g. 'item2vec+sr'); '' for padding."""
    return _label_table(tuple(names))[np.clip(mask, 0, 7)]


def source_array(mask: np.ndarray, names: tuple[str, str, str]) -> pa.Array:
    """`source_labels` as an Arrow string array, built without a Python string per entry."""
    table = pa.array(_label_table(tuple(names)).tolist(), pa.string())
    return table.take(pa.array(np.clip(mask, 0, 7).astype(np.int8)))


@functools.cache
def _label_table(names: tuple[str, str, str]) -> np.ndarray:
    return np.array(
        ["+".join(names[c] for c in range(3) if m & (1 << c)) for m in range(8)], dtype=object
    )


def decay_weights(recency: np.ndarray, decay: float) -> np.ndarray:
    """Weight of an item seen `recency` steps before the newest one (0 = newest)."""
    return np.power(np.float32(decay), np.asarray(recency, dtype=np.float32))


def weighted_sum(
    vectors: np.ndarray, owner: np.ndarray, rows: np.ndarray, weights: np.ndarray, n: int
) -> np.ndarray:
    """(n, dim): for each owner 0..n-1 the weighted sum of the vectors at its rows, as one
    sparse product (np.add.at was 12x slower); `vectors` may be serving's lazy QueryRows."""
    rows = np.asarray(rows)
    if n == 1:  # a served session, no sparse matrix: numpy adds rows in order like scipy
        picked = np.asarray(vectors[rows], np.float32)
        return (np.asarray(weights, np.float32)[:, None] * picked).sum(axis=0, keepdims=True)
    cells = (np.asarray(weights, np.float32), (np.asarray(owner), np.arange(len(rows))))
    picks = sp.csr_matrix(cells, shape=(n, len(rows)))
    return np.ascontiguousarray(picks @ np.asarray(vectors[rows], np.float32), dtype=np.float32)


def popularity_order(counts: np.ndarray) -> np.ndarray:
    """Rows by decreasing count, ties by the smaller row: the popularity channel's ranking."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.lexsort((np.arange(len(counts)), -counts))


def popularity_lists(
    counts: np.ndarray, n_queries: int, depth: int, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The popularity channel for `n_queries` queries: the `depth` most frequent rows (ties
    by the smaller row), scored by log(1 + count). `order`: `popularity_order(counts)`
    kept by the caller (a server must not sort the catalogue per request)."""
    counts = np.asarray(counts)
    top = (popularity_order(counts) if order is None else order)[:depth]
    ids = np.broadcast_to(top[None, :], (n_queries, len(top)))
    top_counts = counts[top].astype(np.float64)
    scores = np.broadcast_to(np.log1p(top_counts).astype(np.float32)[None, :], ids.shape)
    return ids, scores


class Channels:
    """The three channels of one model over its vocabulary rows, ready to be fused.

    Parameters
    ----------
    queries
        Query vectors in the scoring space (`index.spaces`), one row per vocabulary row (an
        array, or `recsys.model.published.QueryRows` computing rows on demand for serving).
    index
        A FAISS inner-product index over the matching indexed vectors (exact in evaluation,
        the serving index in export and serving).
    counts
        The count channel over the same rows, or None (then it lists nothing).
    popularity
        Each row's training count (the popularity channel's scores).
    item_queries
        The query vectors of single-item lists when they differ from `queries`
        (`index.item_side`: the ``sym_in_out`` scoring); None: `queries`.
    """

    def __init__(
        self, queries, index, counts: CountLists | None, popularity: np.ndarray, item_queries=None
    ):
        self.queries, self.index, self.counts = queries, index, counts
        self.item_queries = queries if item_queries is None else item_queries
        self.popularity = np.asarray(popularity)
        self.popular = popularity_order(self.popularity)

    def with_counts(self, counts: CountLists | None) -> Channels:
        """The same embedding and popularity channels with another count channel."""
        other = copy.copy(self)
        other.counts = counts
        return other

    def with_item_queries(self, item_queries) -> Channels:
        """The same channels with other query vectors for single-item lists (another way to
        query the same index: ``sym`` vs ``sym_in_out``)."""
        other = copy.copy(self)
        other.item_queries = self.queries if item_queries is None else item_queries
        return other

    def for_items(
        self, rows: np.ndarray, depth: int, weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each channel's list for single items (the item's own row never listed); the
        embedding or count channel of weight 0 lists nothing (`fuse` would ignore it: a
        server saves the work); popularity always lists (at weight 0 it fills, see `fuse`)."""
        rows = np.asarray(rows, dtype=np.int64)
        n = len(rows)
        channels = [_nothing(n)] * 3
        if weights[EMBEDDING] > 0:
            scores, ids = neighbours_without_self(self.index, self.item_queries, rows, depth)
            channels[EMBEDDING] = _without(ids, scores, rows)
        if self.counts is not None and weights[COUNT] > 0:
            counted = self.counts.query(np.arange(n), rows, np.ones(n, np.float32), n, depth)
            channels[COUNT] = _without(*counted, rows)
        pop_ids, pop_scores = popularity_lists(self.popularity, n, depth + 1, self.popular)
        channels[POPULARITY] = _without(pop_ids, pop_scores, rows, depth)
        return channels

    def for_sessions(
        self,
        owner: np.ndarray,
        rows: np.ndarray,
        weights: np.ndarray,
        n: int,
        depth: int,
        channel_weights: tuple[float, ...] = (1.0, 1.0, 1.0),
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each channel's list for `n` sessions (or users): owner[i] holds item rows[i] with
        weight weights[i] (see `decay_weights`); the embedding or count channel of weight 0
        in `channel_weights` lists nothing, popularity always lists (it fills). Items of
        the session are not removed here: that is the caller's rule (the evaluation
        protocol, or the `seen` rule)."""
        channels = [_nothing(n)] * 3
        if channel_weights[EMBEDDING] > 0:
            vectors = weighted_sum(self.queries, owner, rows, weights, n)
            scores, ids = search(self.index, vectors, depth)
            channels[EMBEDDING] = (ids, scores)
        if self.counts is not None and channel_weights[COUNT] > 0:
            channels[COUNT] = self.counts.query(owner, rows, weights, n, depth)
        channels[POPULARITY] = popularity_lists(self.popularity, n, depth, self.popular)
        return channels


def take_rows(a: np.ndarray, order: np.ndarray) -> np.ndarray:
    """`np.take_along_axis(a, order, 1)` for 2-D arrays, without its per-call set-up."""
    return a[np.arange(len(a))[:, None], order]


def _nothing(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, 0), -1, np.int64), np.zeros((n, 0), np.float32)


def _without(
    ids: np.ndarray, scores: np.ndarray, rows: np.ndarray, depth: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The lists with each query's own row removed (and cut to `depth`)."""
    ids = np.array(ids, dtype=np.int64, copy=True)
    scores = np.array(scores, dtype=np.float32, copy=True)
    own = ids == np.asarray(rows)[:, None]
    ids[own] = -1
    # Push the removed entries to the end of their row, keeping the others' order.
    order = np.argsort(ids < 0, axis=1, kind="stable")
    ids, scores = take_rows(ids, order), take_rows(scores, order)
    if depth is not None:
        ids, scores = ids[:, :depth], scores[:, :depth]
    return ids, scores
