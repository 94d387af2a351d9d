"""What a served model answers: an item's neighbours, a user's list, a live session's recall.

Every live list goes through the one score function (recsys/model/scoring.py: the channels
fused with the run's weights) at the export's depth (`overfetch` x K; a session adds the
rows it removes, as the export does for a user's seen items), then through the export's
rules (recsys/serve/rules.py). So `GET /similar` for K <= `export.k` is the top of the
item's row in item_recs.parquet (and is read from there), and a session made of a user's
latest items is that user's exported list before the `seen` rule.

A session's query is the export's user query: the distinct items the model knows, each at
its latest position, the `export.user_history` most recent of them, the i-th most recent
weighted `export.recency_decay`**i.

`because` (sessions): each returned item names the given item that contributed most to its
fused score. Both personal channels are sums over the session's items (the embedding scores
(sum_i w_i q_i) . x = sum_i w_i (q_i . x); the count channel adds the items' weighted
lists), and min-max normalisation is affine per channel, so item i's share of the fused
score is  w_emb * w_i (q_i . x) / span_emb + w_count * w_i M[i, x] / span_count  (span: the
channel's score range in this list; a channel contributes only where it listed the item).
The largest share wins, ties going to the more recent item; an item only popularity listed
has no `because` (null).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys.model.published import item_depth
from recsys.model.scoring import COUNT, EMBEDDING, decay_weights, fuse, source_labels
from recsys.serve.model import ServedModel
from recsys.serve.rules import Anchor

POPULARITY = "popularity"
SAME_ATTRIBUTE = "popularity:same_attribute"


def similar(model: ServedModel, item_id: str, k: int, exclude: Sequence[str] = ()) -> list | None:
    """The item's k best neighbours (never itself, nor an `exclude` id), or None when the
    run does not know the item. An item without a vector answers its exported fallback
    list (labelled).

    For k <= `export.k` the answer is the top of the item's exported list (what the live
    ranking below computes for it: same channels, depth, fusion and rules, checked by
    tests/serve), read from memory when the server keeps the lists, else ranked live. A
    larger k answers that list continued by a live ranking searched as deep as k needs:
    the first `export.k` stay as exported (a deeper search would min-max scale each
    channel over a longer list and could reorder near-ties at the top), the items after
    them come in the deeper ranking's order, their scores capped at the last exported one
    so scores never rise down the list."""
    row = model.row(item_id)
    if row < 0:
        table = model.cold_list(item_id)
        return None if table is None else exported(table, k, exclude)
    cfg = model.cfg
    excluded = known_rows(model, exclude)
    if k <= cfg.k and model.items is not None:
        listed = model.items.top(row, k, excluded)
        # `exclude` can leave fewer than k of the stored export.k: then rank live, whose
        # list is deeper and whose top is the stored one.
        if listed is not None and len(listed[0]) == k:
            rows, scores, sources = listed
            return _items(model, rows, scores, labels=sources)
    removed = np.append(excluded, row)
    anchor = _anchor(model, item_id)
    ids, scores, mask = (a[: min(k, cfg.k)] for a in _live(model, row, anchor, removed, cfg.k))
    if k > cfg.k:
        more, more_scores, more_mask = _live(model, row, anchor, removed, k)
        new = ~np.isin(more, ids)
        cap = scores[-1] if len(scores) else np.inf
        ids = np.concatenate([ids, more[new]])[:k]
        scores = np.concatenate([scores, np.minimum(more_scores[new], cap)])[:k]
        mask = np.concatenate([mask, more_mask[new]])[:k]
    return _items(model, ids, scores, mask)


def _live(
    model: ServedModel, row: int, anchor: Anchor | None, removed: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The item's fused list ranked live at the depth of k (`item_depth`, the export's for
    k = `export.k`) through the rules: (rows, scores, channel masks), every kept entry."""
    depth = item_depth(model.cfg.overfetch, max(k, 1), model.n_items)
    weights = model.cfg.item_weights.of()
    parts = model.channels.for_items(np.array([row]), depth, weights)
    ids, scores, mask = fuse(parts, weights, depth)
    keep = model.rules.keep(ids[0], anchor, removed)
    return ids[0][keep], scores[0][keep], mask[0][keep]


def user(model: ServedModel, user_id: str, k: int, exclude: Sequence[str] = ()) -> list:
    """The user's exported list; an unknown user gets the popularity fallback (labelled), a
    known user whose list the rules emptied no items (not popularity: it would repeat what
    the user has seen)."""
    table = model.user_list(user_id)
    if table is None:
        return popular(model, k, known_rows(model, exclude), None)
    return exported(table, k, exclude)


def session(
    model: ServedModel, items: Sequence[str], k: int, exclude: Sequence[str] = ()
) -> tuple[list, list[str]]:
    """(recommendations, unknown ids) for a session given oldest first: never one of its
    items or of `exclude`; each recommendation says `because` of which given item."""
    cfg = model.cfg
    rows = model.emb.rows(list(items))
    unknown = list(dict.fromkeys(i for i, r in zip(items, rows, strict=True) if r < 0))
    query, recency = session_query(rows, cfg.user_history)
    removed = np.union1d(rows[rows >= 0], known_rows(model, exclude))
    anchor = _anchor(model, items[-1]) if len(items) else None
    if len(query) == 0:
        return popular(model, k, removed, anchor, because=True), unknown
    weights = decay_weights(recency, cfg.recency_decay)
    depth = min(cfg.overfetch * max(k, cfg.k) + len(removed), model.n_items)
    owner = np.zeros(len(query), np.int64)
    channel_weights = cfg.session_weights.of()
    parts = model.channels.for_sessions(owner, query, weights, 1, depth, channel_weights)
    ids, scores, mask = fuse(parts, channel_weights, depth)
    keep = model.rules.keep(ids[0], anchor, removed)
    top, top_scores, top_mask = ids[0][keep][:k], scores[0][keep][:k], mask[0][keep][:k]
    why = because(model, parts, query, weights, top, top_mask)
    return _items(model, top, top_scores, top_mask, why), unknown


def session_query(rows: np.ndarray, history: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, recency) of a session's query from its item rows, oldest first (-1 = unknown):
    the distinct known rows by their latest position, the `history` most recent, newest
    first (recency 0) - the export's user query (sql/export/user_history.sql)."""
    newest_first = rows[::-1]
    newest_first = newest_first[newest_first >= 0]
    _, first = np.unique(newest_first, return_index=True)
    query = newest_first[np.sort(first)][:history]
    return query.astype(np.int64), np.arange(len(query))


def because(
    model: ServedModel,
    parts: list,
    query: np.ndarray,
    weights: np.ndarray,
    top: np.ndarray,
    mask: np.ndarray,
) -> list[str | None]:
    """For each of the `top` rows, the query item that contributed most to its fused score
    (see the module docstring); None when no personal channel listed it. `mask` holds the
    channels that listed each row (`fuse`'s mask)."""
    w = model.cfg.session_weights.of()
    share = np.zeros((len(query), len(top)))
    listed_any = np.zeros(len(top), dtype=bool)
    channels = model.channels
    for c in (EMBEDDING, COUNT):
        listed = (mask & (1 << c)) != 0
        if w[c] <= 0 or not listed.any():
            continue
        ids, scores = parts[c][0][0], parts[c][1][0]
        scores = scores[ids >= 0]
        cols = top[listed]
        if c == EMBEDDING:
            raw = channels.queries[query] @ channels.queries.indexed(cols).T
        else:
            raw = count_entries(channels.counts.matrix, query, cols)
        span = float(scores.max() - scores.min())
        span = span if np.isfinite(span) and span > 0 else 1.0
        share[:, listed] += w[c] / span * weights[:, None] * raw
        listed_any |= listed
    best = np.argmax(share, axis=0)  # ties: the first, the most recent item
    names = model.emb.item_ids[query[best]].tolist()
    return [n if ok else None for n, ok in zip(names, listed_any, strict=True)]


def count_entries(matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """matrix[rows][:, cols] as a dense array, read from the CSR arrays (each row's column
    indices sorted): the rows' entries keyed row * width + column form one sorted array,
    searched once for every wanted (row, column); the sparse slicing machinery costs ~1 ms
    a request for these few entries."""
    starts, stops = matrix.indptr[rows], matrix.indptr[rows + 1]
    lengths = stops - starts
    offsets = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    at = offsets + np.arange(int(lengths.sum()))
    width = matrix.shape[1]
    keys = np.repeat(np.arange(len(rows)), lengths) * width + matrix.indices[at]
    wanted = (np.arange(len(rows))[:, None] * width + cols[None, :]).ravel()
    found = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    hit = keys[found] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
    values = np.where(hit, matrix.data[at][found] if len(keys) else 0.0, 0.0)
    return values.reshape(len(rows), len(cols)).astype(np.float64)


def popular(
    model: ServedModel,
    k: int,
    removed: np.ndarray,
    anchor: Anchor | None,
    because: bool = False,
) -> list:
    """The popularity fallback (the export's: training count, ties by item id) through the
    rules; `source` says `popularity:same_attribute` when the anchor's category bounded it."""
    order = model.popular
    head = order[: min(len(order), 4 * (k + len(removed)))]
    keep = model.rules.keep(head, anchor, removed)
    if keep.sum() < k and len(head) < len(order):
        head = order
        keep = model.rules.keep(head, anchor, removed)
    rows = head[keep][:k]
    label = SAME_ATTRIBUTE if anchor is not None and model.rules.same_attribute else POPULARITY
    counts = model.emb.counts[rows].astype(np.float64)
    out = _items(model, rows, counts, np.zeros(len(rows), np.int64))
    for item in out:
        item["source"] = label
        if because:
            item["because"] = None
    return out


def exported(table: pa.Table, k: int, exclude: Sequence[str] = ()) -> list:
    """The first k rows of an exported list (lookup.KeyedRows) not in `exclude`, ranked
    again from 1."""
    if exclude:
        table = table.filter(pc.invert(pc.is_in(table.column("item"), pa.array(exclude))))
    rows = table.slice(0, k).to_pydict()
    return [
        {"item_id": item, "rank": r + 1, "score": score, "source": source}
        for r, (item, score, source) in enumerate(
            zip(rows["item"], rows["score"], rows["source"], strict=True)
        )
    ]


def known_rows(model: ServedModel, ids: Sequence[str]) -> np.ndarray:
    rows = model.emb.rows(list(ids))
    return rows[rows >= 0]


def _anchor(model: ServedModel, item_id: str) -> Anchor | None:
    return model.rules.anchor(item_id) if model.rules.anchored else None


def _items(
    model: ServedModel,
    rows: np.ndarray,
    scores: np.ndarray,
    mask: np.ndarray | None = None,
    why: list | None = None,
    labels: np.ndarray | None = None,
) -> list[dict]:
    """Answer items from vocabulary rows; `source` from the channel `mask` (or `labels`)."""
    ids = model.emb.item_ids[rows].tolist()
    sources = (source_labels(mask, model.names) if labels is None else labels).tolist()
    out = [
        {"item_id": i, "rank": r + 1, "score": s, "source": src}
        for r, (i, s, src) in enumerate(zip(ids, np.asarray(scores).tolist(), sources, strict=True))
    ]
    if why is not None:
        for item, name in zip(out, why, strict=True):
            item["because"] = name
    return out
