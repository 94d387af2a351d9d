"""Reading a trained model's vectors and vocabulary (row -> item_id) from a run folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

VECTORS = "vectors.npy"
CONTEXT_VECTORS = "context_vectors.npy"
VOCAB = "vocab.parquet"


class Embedding:
    """Vectors plus the item ids of their rows, with id -> row lookups."""

    def __init__(self, vectors: np.ndarray, item_ids: np.ndarray) -> None:
        self.vectors = vectors
        self.item_ids = item_ids
        self._row = {item: row for row, item in enumerate(item_ids.tolist())}

    @classmethod
    def load(cls, folder: Path, *, context: bool = False) -> Embedding:
        name = CONTEXT_VECTORS if context else VECTORS
        vectors = np.load(Path(folder) / name)
        ids = pq.read_table(Path(folder) / VOCAB, columns=["item_id"]).column(0)
        return cls(vectors, np.asarray(ids.to_pylist(), dtype=object))

    def __len__(self) -> int:
        return len(self.item_ids)

    def rows(self, item_ids: list[str]) -> np.ndarray:
        """Rows of the given ids; -1 where an id is not in the vocabulary."""
        return np.array([self._row.get(i, -1) for i in item_ids], dtype=np.int64)
