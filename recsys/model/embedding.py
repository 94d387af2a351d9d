"""`Embedding`: a trained model's vectors and vocabulary (row -> item_id) from a run folder."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys.layout import CONTEXT_VECTORS, VECTORS, VOCAB
from recsys.model.index import item_side, spaces


class Embedding:
    """Input and output vectors plus the item ids of their rows, with id -> row lookups."""

    def __init__(
        self,
        vectors: np.ndarray,
        item_ids: np.ndarray,
        context: np.ndarray | None = None,
        counts: np.ndarray | None = None,
    ) -> None:
        self.vectors = vectors
        self.context = context if context is not None else vectors
        self.item_ids = item_ids
        # Training counts per row: the popularity channel's scores (all 1 when unknown).
        self.counts = np.ones(len(item_ids), np.int64) if counts is None else np.asarray(counts)
        self._row = {item: row for row, item in enumerate(item_ids.tolist())}
        self._arrow_ids: pa.Array | None = None

    @classmethod
    def load(cls, folder: Path, prefix: str = "") -> Embedding:
        """The model in `folder`; `prefix` selects another copy of the files there (the
        evaluated model of a refit run: `layout.EVALUATED_PREFIX`). The vectors are read
        into memory, never mapped: a server's model must not change, or die of SIGBUS, when
        a file under it is overwritten or truncated in place."""
        folder = Path(folder)
        vocab = pq.read_table(folder / (prefix + VOCAB), columns=["item_id", "count"])
        return cls(
            np.load(folder / (prefix + VECTORS), allow_pickle=False),
            np.asarray(vocab.column("item_id").to_pylist(), dtype=object),
            np.load(folder / (prefix + CONTEXT_VECTORS), allow_pickle=False),
            vocab.column("count").to_numpy(),
        )

    def spaces(self, scoring: str) -> tuple[np.ndarray, np.ndarray]:
        """(query vectors, indexed vectors) under a scoring (see recsys.model.index)."""
        return spaces(self.vectors, self.context, scoring)

    def item_queries(self, scoring: str) -> np.ndarray | None:
        """The query vectors of single-item lists where they differ from `spaces`' (the
        ``sym_in_out`` scoring), else None."""
        return item_side(self.vectors, self.context, scoring)

    @cached_property
    def ids(self) -> pa.Array:
        """The item ids as an Arrow string array: `ids.take(rows)` turns millions of rows
        into ids ten times faster than a Python list would."""
        return pa.array(self.item_ids.tolist(), pa.string())

    def __len__(self) -> int:
        return len(self.item_ids)

    def rows(self, item_ids: list[str]) -> np.ndarray:
        """Rows of the given ids; -1 where an id is not in the vocabulary."""
        return np.array([self._row.get(i, -1) for i in item_ids], dtype=np.int64)

    def row(self, item_id: str) -> int:
        """The row of one id; -1 when it is not in the vocabulary."""
        return self._row.get(item_id, -1)

    @property
    def arrow_ids(self) -> pa.Array:
        """The item ids as an Arrow string array (row order), built once."""
        if self._arrow_ids is None:
            self._arrow_ids = pa.array(self.item_ids.tolist(), pa.string())
        return self._arrow_ids

    def rows_of(self, item_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """`rows` for an Arrow column: one hash lookup in Arrow, no Python object per id
        (millions of count-list rows; Arrow releases the GIL, so a server loading a run
        beside the one it serves does not stall its requests)."""
        found = pc.index_in(pc.cast(item_ids, pa.string()), value_set=self.arrow_ids)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
