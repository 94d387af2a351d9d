"""The model's lists in the evaluation: its three channels (recsys/model/scoring.py) over
the exact index of the evaluated vectors, fused with the run's weights, as Arrow tables of
(query_id, rank, item_id, score) that the evaluation SQL joins with the test cases.

Exact search: the evaluation measures the model, not an ANN approximation of it (the
export's index has its own recall check).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from recsys.config import ChannelWeights
from recsys.model import index
from recsys.model.counts import CountLists
from recsys.model.embedding import Embedding
from recsys.model.scoring import Channels, decay_weights, fuse


def channels_of(
    emb: Embedding, scoring: str, counts: pa.Table | None, popularity: np.ndarray
) -> Channels:
    """The model's channels: exact search in the scoring space, the count channel from
    `counts` (query_id, item_id, score; ids outside the vocabulary dropped)."""
    queries, indexed = emb.spaces(scoring)
    exact = index.build_exact(indexed)
    item_queries = emb.item_queries(scoring)
    return Channels(queries, exact, count_lists(emb, counts), popularity, item_queries)


def count_lists(emb: Embedding, counts: pa.Table | None) -> CountLists | None:
    """The count channel over `emb`'s rows from its lists (query_id, item_id, score); ids
    outside the vocabulary dropped; None when there are none."""
    if counts is None or not counts.num_rows:
        return None
    src = emb.rows_of(counts.column("query_id"))
    dst = emb.rows_of(counts.column("item_id"))
    keep = (src >= 0) & (dst >= 0)
    score = counts.column("score").to_numpy()[keep]
    return CountLists(src[keep], dst[keep], score, len(emb))


def table(keys: np.ndarray, ids: np.ndarray, scores: np.ndarray, emb: Embedding) -> pa.Table:
    """(query_id, rank, item_id, score) of row lists `ids` (-1 = padding) keyed by `keys`."""
    width = ids.shape[1] if ids.ndim == 2 else 0
    valid = ids.ravel() >= 0
    owner = np.repeat(np.arange(len(ids)), width)[valid]
    return pa.table(
        {
            "query_id": pa.array(np.asarray(keys, dtype=object).tolist(), pa.string()).take(
                pa.array(owner)
            ),
            "rank": pa.array(np.tile(np.arange(1, width + 1), len(ids))[valid], pa.int64()),
            "item_id": emb.ids.take(pa.array(ids.ravel()[valid])),
            "score": pa.array(scores.ravel()[valid].astype(np.float64), pa.float64()),
        }
    )


def item_lists(
    channels: Channels, emb: Embedding, item_ids: list[str], depth: int, weights: ChannelWeights
) -> dict[str, pa.Table]:
    """The fused item lists (`item2vec`) and the embedding channel alone (`embedding`) of
    every id the model knows (an unknown query has no list: a miss)."""
    rows = emb.rows(item_ids)
    known = rows >= 0
    keys = np.asarray(item_ids, dtype=object)[known]
    parts = channels.for_items(rows[known], depth)
    fused_ids, fused_scores, _ = fuse(parts, weights.of(), depth)
    return {
        "item2vec": table(keys, fused_ids, fused_scores, emb),
        "embedding": table(keys, parts[0][0], parts[0][1], emb),
    }


def session_lists(
    channels: Channels,
    emb: Embedding,
    prefix: pa.Table,
    history: int,
    decay: float,
    depth: int,
    weights: ChannelWeights,
) -> dict[str, pa.Table]:
    """The fused session lists and the embedding channel alone for each case of `prefix`
    (pair_id, item_id, recency): the case's `history` most recent known items, the item i
    steps back weighted decay**i."""
    pair = prefix.column("pair_id").to_numpy()
    rows = emb.rows_of(prefix.column("item_id"))
    recency = prefix.column("recency").to_numpy()
    keep = (rows >= 0) & (recency < history)
    cases, owner = np.unique(pair[keep], return_inverse=True)
    parts = channels.for_sessions(
        owner, rows[keep], decay_weights(recency[keep], decay), len(cases), depth
    )
    fused_ids, fused_scores, _ = fuse(parts, weights.of(), depth)
    keys = cases.astype(str)
    return {
        "item2vec": table(keys, fused_ids, fused_scores, emb),
        "embedding": table(keys, parts[0][0], parts[0][1], emb),
    }
