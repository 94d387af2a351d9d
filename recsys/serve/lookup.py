"""Finding the rows of one id in a sorted Arrow table, without a Python object per row."""

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
