"""What the export and the server both build from a run folder: the model's channels over
the serving index and the published count lists, and how deep an item list is searched.

Export builds every list at once (the query vectors as whole arrays); `recsys serve` and
`recsys similar` answer one list at a time from memory-mapped vectors, so the query rows of
the scoring space are computed on demand (`QueryRows`) instead of copied at load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from recsys.model.counts import CountLists
from recsys.model.embedding import Embedding
from recsys.model.index import item_side, side
from recsys.model.scoring import Channels


class QueryRows:
    """The query side of a scoring space (`index.spaces`), row by row on demand.

    `index.side` is row-wise (concatenation for `sym`, L2 normalisation for `in_in`), so the
    rows computed from a subset equal the same rows of the whole space; nothing of the size
    of the catalogue is copied (a 100k x 128 `sym` space is 51 MB that a server would copy
    on every swap)."""

    def __init__(
        self, vectors: np.ndarray, context: np.ndarray, scoring: str, items: bool = False
    ) -> None:
        self.vectors, self.context = vectors, context
        self.scoring = scoring
        # `items`: the query side of single-item lists (`index.item_side`, where it differs).
        self.items = items and item_side(vectors[:1], context[:1], scoring) is not None
        self.shape = (len(vectors), self[:1].shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        make = item_side if self.items else side
        return make(self.vectors[rows], self.context[rows], self.scoring)

    def indexed(self, rows) -> np.ndarray:
        """The same rows on the indexed side (what a query is scored against)."""
        return side(self.vectors[rows], self.context[rows], self.scoring, indexed=True)


def channels_of(
    emb: Embedding, idx, scoring: str, counts: Path | None, lazy: bool = False
) -> Channels:
    """The served model's channels: the serving index `idx` in the scoring space, the
    count channel's lists (`counts`, layout.COUNT_LISTS; None: a run without the channel),
    the training counts. `lazy` (a server) computes query rows on demand (`QueryRows`)
    instead of building the whole space, and reads on the calling thread only."""
    if lazy:
        queries = QueryRows(emb.vectors, emb.context, scoring)
        own = QueryRows(emb.vectors, emb.context, scoring, items=True)
        item_queries = own if own.items else None
    else:
        queries, item_queries = emb.spaces(scoring)[0], emb.item_queries(scoring)
    if counts is None:
        return Channels(queries, idx, None, emb.counts, item_queries)
    # A server (lazy) decodes on its loader thread alone: Arrow's pool would take the core
    # the event loop answers on while a new run is loaded beside the served one.
    lists = pq.read_table(
        counts, columns=["item_id", "neighbor_id", "score"], memory_map=True, use_threads=not lazy
    )
    src = emb.rows_of(lists.column("item_id"))
    dst = emb.rows_of(lists.column("neighbor_id"))
    keep = (src >= 0) & (dst >= 0)
    score = lists.column("score").to_numpy()[keep]
    count_lists = CountLists(src[keep], dst[keep], score, len(emb))
    return Channels(queries, idx, count_lists, emb.counts, item_queries)


def item_depth(overfetch: int, k: int, n_items: int) -> int:
    """How deep an item's fused list is searched for K kept items: `overfetch` x K, the
    export's depth, so a served list is the top of the exported one (never more than the
    other items of the catalogue)."""
    return max(1, min(overfetch * k, n_items - 1))
