"""FAISS helpers: the one place vectors are scored, indexed and searched.

Two scorings (`export.scoring`):

- ``in_out`` (default): query = the item's input vector, index = output (context) vectors,
  score = their raw inner product, the logit skip-gram/CBOW with negative sampling is
  trained to maximise for items that occur together (the "dual embedding space" reading of
  Mitra et al. 2016). It ranks "what comes with / after this item".
- ``in_in``: cosine of input vectors (classic item2vec similarity): "items like this one".

Only numpy and faiss are imported here, so serving (`recsys similar`) needs no training
library.
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


SCORINGS = ("in_out", "in_in")


def spaces(vectors: np.ndarray, context: np.ndarray, scoring: str) -> tuple[np.ndarray, np.ndarray]:
    """(query vectors, indexed vectors) for a scoring; row i of both is vocabulary row i."""
    if scoring == "in_in":
        unit = normalize(vectors)
        return unit, unit
    if scoring == "in_out":
        return (
            np.ascontiguousarray(vectors, dtype=np.float32),
            np.ascontiguousarray(context, dtype=np.float32),
        )
    raise ValueError(f"unknown scoring '{scoring}' (use one of {SCORINGS})")


def build_exact(indexed: np.ndarray) -> faiss.Index:
    """Exact inner-product index over the given (already scored-space) vectors."""
    index = faiss.IndexFlatIP(indexed.shape[1])
    index.add(np.ascontiguousarray(indexed, dtype=np.float32))
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
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    scores = np.empty((len(queries), k), dtype=np.float32)
    ids = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), batch_size):
        stop = start + batch_size
        scores[start:stop], ids[start:stop] = index.search(queries[start:stop], k)
        if on_batch is not None:
            on_batch(min(stop, len(queries)))
    return scores, ids


def neighbours_without_self(
    index: faiss.Index, queries: np.ndarray, rows: np.ndarray, k: int, **kwargs
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k neighbours of the items at `rows` (`queries` = all query vectors), never the
    item itself.

    Searches k+1 and drops the query's own row wherever it appears (duplicate vectors can
    put it below rank 1); rows that did not contain it lose their last hit instead.
    """
    scores, ids = search(index, queries[rows], k + 1, **kwargs)
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
