"""Finding an exported list without a Python object per row: by binary search in a sorted
Arrow table (`KeyedRows`: any key), or as array slices by vocabulary row (`RowLists`: the
item lists of the model's items)."""

from __future__ import annotations

from bisect import bisect_left

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class KeyedRows:
    """The rows of an Arrow table grouped by a key column, found by binary search.

    The table is sorted by (key, rank) once (the export already writes that order, so this
    is a check); the first row of each key is kept as an offset. Python's str order is
    code-point order, which is the UTF-8 byte order Arrow and DuckDB sort strings by."""

    def __init__(self, table: pa.Table, key: str, rank: str | None = "rank") -> None:
        ids = table.column(key)
        if table.num_rows > 1:
            ordered = pc.all(pc.less_equal(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py()
            if not ordered:
                keys = [(key, "ascending")] + ([(rank, "ascending")] if rank else [])
                table = table.sort_by(keys)
                ids = table.column(key)
        ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        first = np.ones(len(ids), dtype=bool)
        if len(ids) > 1:
            changed = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1))
            first[1:] = changed.to_numpy(zero_copy_only=False)
        self.table = table
        self.starts = np.append(np.flatnonzero(first), len(ids))
        self.keys = ids.take(pa.array(self.starts[:-1]))

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> str:  # what bisect compares against
        return self.keys[i].as_py()

    def position(self, key: str) -> int | None:
        """The key's group number, or None when absent."""
        at = bisect_left(self, key)
        return at if at < len(self.keys) and self[at] == key else None

    def rows(self, key: str) -> pa.Table | None:
        """The key's rows (in rank order), or None when the key is absent."""
        at = self.position(key)
        if at is None:
            return None
        start, stop = int(self.starts[at]), int(self.starts[at + 1])
        return self.table.slice(start, stop - start)


class RowLists:
    """The exported lists of the model's items (item_recs.parquet) as arrays by vocabulary
    row: list r is `items[start[r]:stop[r]]` (vocabulary rows, rank order) with `scores`
    and `sources` (codes into `labels`). 9 bytes a row instead of an Arrow table's ~60, and
    a lookup is two array reads.

    `table` holds (key, rank, item, score, source), grouped by key in rank order as the
    export writes it (checked; sorted here otherwise); `keys` are the key column's rows
    when the caller has them. The lists of keys the model does not know, and lists naming
    an item it does not know, are left out (start -1): the caller answers those another
    way."""

    def __init__(self, table: pa.Table, emb, keys: np.ndarray | None = None) -> None:
        keys = emb.rows_of(table.column("key")) if keys is None else keys  # -1: skipped
        items = emb.rows_of(table.column("item"))
        rank = table.column("rank").to_numpy()
        if len(keys) > 1:
            change = keys[1:] != keys[:-1]
            grouped = len(np.unique(keys[np.r_[True, change]])) == int(change.sum()) + 1
            if not grouped or (np.diff(rank)[~change] <= 0).any():
                order = np.lexsort((rank, keys))
                keys, items, table = keys[order], items[order], table.take(order)
        first = np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, bool)
        starts = np.flatnonzero(first)
        stops = np.r_[starts[1:], len(keys)].astype(np.int64)
        bad = np.add.reduceat((items < 0).astype(np.int64), starts) > 0 if len(starts) else []
        group_keys = keys[starts]
        usable = (group_keys >= 0) & ~np.asarray(bad, dtype=bool)
        self.start = np.full(len(emb), -1, np.int64)
        self.stop = np.full(len(emb), -1, np.int64)
        self.start[group_keys[usable]] = starts[usable]
        self.stop[group_keys[usable]] = stops[usable]
        self.items = items.astype(np.int32)
        self.scores = table.column("score").to_numpy().astype(np.float32)
        codes = pc.dictionary_encode(table.column("source").combine_chunks())
        self.labels = np.array(codes.dictionary.to_pylist(), dtype=object)
        self.sources = codes.indices.to_numpy(zero_copy_only=False).astype(np.int8)

    def top(self, row: int, k: int, removed: np.ndarray):
        """(items, scores, source labels) of the first k entries of row's list that are not
        in `removed`, or None when the row has no usable list."""
        a, b = self.start[row], self.stop[row]
        if a < 0:
            return None
        items = self.items[a:b]
        keep = (items[:, None] != np.asarray(removed)[None, :]).all(axis=1)
        at = np.flatnonzero(keep)[:k] + a
        return self.items[at], self.scores[at], self.labels[self.sources[at]]
