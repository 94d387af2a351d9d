"""FAISS helpers: the one place vectors are normalised, indexed and searched.

Only numpy and faiss are imported here, so serving (`recsys similar`) needs no training
library. Scores are inner products of L2-normalised vectors, i.e. cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

INDEX_FILE = "index.faiss"


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (zero rows stay zero) as contiguous float32."""
    out = np.ascontiguousarray(vectors, dtype=np.float32).copy()
    faiss.normalize_L2(out)
    return out


def build_exact(vectors: np.ndarray) -> faiss.Index:
    """Exact inner-product index over normalised vectors (cosine)."""
    unit = normalize(vectors)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    return index


def search(
    index: faiss.Index,
    queries: np.ndarray,
    k: int,
    *,
    batch_size: int = 8192,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) for each query row, in batches; ids are -1 where fewer exist."""
    k = max(1, min(int(k), index.ntotal))
    unit = normalize(queries)
    scores = np.empty((len(unit), k), dtype=np.float32)
    ids = np.empty((len(unit), k), dtype=np.int64)
    for start in range(0, len(unit), batch_size):
        stop = start + batch_size
        scores[start:stop], ids[start:stop] = index.search(unit[start:stop], k)
        if on_batch is not None:
            on_batch(min(stop, len(unit)))
    return scores, ids


def neighbours_without_self(
    index: faiss.Index, vectors: np.ndarray, rows: np.ndarray, k: int, **kwargs
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k neighbours of the items at `rows`, never the item itself.

    Searches k+1 and drops the query's own row wherever it appears (duplicate vectors can
    put it below rank 1); rows that did not contain it lose their last hit instead.
    """
    scores, ids = search(index, vectors[rows], k + 1, **kwargs)
    own = ids == rows[:, None]
    # Keep the first k entries that are not the query itself.
    order = np.argsort(own, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


def save(index: faiss.Index, folder: Path) -> Path:
    path = Path(folder) / INDEX_FILE
    faiss.write_index(index, str(path))
    return path


def load(folder: Path) -> faiss.Index:
    return faiss.read_index(str(Path(folder) / INDEX_FILE))
