"""Serving index: all-items top-20 export with the ANN index vs exact FAISS search.

Synthetic clustered vectors (items around 1,000 centres; query = "input" vectors, index =
separately drawn, rescaled "context" vectors, i.e. the default in_out raw inner product).
The reference is `faiss.IndexFlatIP` over the same vectors in the same process:

- 100k x 64: every item queries its top-21 (top-20 without itself), exact vs ANN, recall@20
  over all items, speed-up of the search alone and of build + search. `auto` is what export
  chooses by itself (IVF-Flat, nlist = 4*sqrt(n), nprobe tuned on the sample).
- the same with Gaussian vectors that have no clusters: `auto` must notice that IVF would
  scan most lists and serve exact search instead.

Every index is built as export builds it (`index.build_tuned`): its search beam (efSearch /
nprobe) doubled from the configured start until a 1,000-query sample reaches recall@20 >=
0.98 (`export.recall_target`), then bisected back; that tuning counts as build time, `beam`
is where it stopped.

- 1M x 64: the size-chosen index (auto: IVF-Flat up to export.ivfflat_max_items) and
  IVF-PQ, HNSW: build time, recall@20 on 2,000 sampled queries against exact search, bytes
  per vector, and search throughput on a sample.

`--quick` uses 20k / 100k items. FAISS runs single-threaded here (see main).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.config import ExportConfig
from recsys.model import index

K = 20


def clustered(n: int, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, dim)).astype(np.float32)
    label = rng.integers(0, 1000, n)
    queries = centres[label] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
    context = centres[label] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
    return queries, context * rng.uniform(0.5, 1.5, (n, 1)).astype(np.float32)


def recall(truth: np.ndarray, found: np.ndarray) -> float:
    hits = sum(len(np.intersect1d(t, f)) for t, f in zip(truth, found, strict=True))
    return hits / truth.size


def built(indexed: np.ndarray, queries: np.ndarray, params: dict):
    """The index as export serves it (`index.build_tuned`): built, then its beam tuned to
    the recall target on a 1,000-query sample (the tuning time counts as build time)."""
    cfg = ExportConfig(**params)
    idx, info = index.build_tuned(queries, indexed, K, cfg)
    beam = info.get(index.BEAMS.get(info["kind"], ""), "-")
    info["beam"] = f"{info['kind']} {beam}" if params.get("index_type", "auto") == "auto" else beam
    return idx, info


def unclustered(n: int, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian vectors with no cluster structure: what 'auto' must not serve with IVF."""
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n, dim)).astype(np.float32),
        rng.normal(size=(n, dim)).astype(np.float32),
    )


def all_items(n: int, settings: dict[str, dict], vectors=clustered) -> list[dict]:
    queries, indexed = vectors(n)
    start = time.perf_counter()
    exact = index.build_exact(indexed)
    _, truth = index.search(exact, queries, K + 1)
    exact_s = time.perf_counter() - start
    rows = [
        {
            "items": n,
            "vectors": vectors.__name__,
            "index": "exact IndexFlatIP",
            "build_s": 0.0,
            "search_s": round(exact_s, 2),
            f"recall@{K}": 1.0,
            "speedup_search": 1.0,
            "speedup_total": 1.0,
            "bytes/vec": 4 * indexed.shape[1],
        }
    ]
    for label, params in settings.items():
        idx, info = built(indexed, queries, params)
        start = time.perf_counter()
        _, found = index.search(idx, queries, K + 1)
        search_s = time.perf_counter() - start
        rows.append(
            {
                "items": n,
                "vectors": vectors.__name__,
                "index": label,
                "build_s": info["build_seconds"],
                "beam": info["beam"],
                "search_s": round(search_s, 2),
                f"recall@{K}": round(recall(truth[:, :K], found[:, :K]), 4),
                "speedup_search": round(exact_s / search_s, 1),
                "speedup_total": round(exact_s / (search_s + info["build_seconds"]), 1),
                "bytes/vec": round(len(faiss.serialize_index(idx)) / n, 1),
            }
        )
    return rows


def large(n: int, settings: dict[str, dict], sample: int = 2000) -> list[dict]:
    queries, indexed = clustered(n, seed=1)
    rows = []
    rng = np.random.default_rng(0)
    picked = queries[rng.choice(n, sample, replace=False)]
    start = time.perf_counter()
    _, truth = index.build_exact(indexed).search(picked, K)
    exact_per_query = (time.perf_counter() - start) / sample
    for label, params in settings.items():
        idx, info = built(indexed, queries, params)
        start = time.perf_counter()
        _, found = index.search(idx, picked, K)
        per_query = (time.perf_counter() - start) / sample
        rows.append(
            {
                "items": n,
                "index": label,
                "build_s": info["build_seconds"],
                "beam": info["beam"],
                f"recall@{K}": round(recall(truth, found), 4),
                "ms/query": round(1000 * per_query, 3),
                "exact ms/query": round(1000 * exact_per_query, 3),
                "speedup_search": round(exact_per_query / per_query, 1),
                "bytes/vec": round(len(faiss.serialize_index(idx)) / n, 1),
                "index_MB": round(len(faiss.serialize_index(idx)) / 2**20, 1),
            }
        )
        del idx
    return rows


def main(quick: bool = False) -> list[dict]:
    # One OpenMP thread for reference and ANN alike: on a shared 2-core machine OpenMP
    # spin-waiting made IVF training 5x slower and timings noisy.
    faiss.omp_set_num_threads(1)
    n = 20_000 if quick else 100_000
    # flat_max_items below n: --quick's 20k catalogue gets the same choice as 100k.
    auto = {"index_type": "auto", "flat_max_items": n // 2}
    mid = {
        "auto": auto,
        "hnsw M=32": {"index_type": "hnsw"},
        "hnsw M=16": {"index_type": "hnsw", "hnsw_m": 16},
        "ivfflat nlist=sqrt(n)": {"index_type": "ivfflat", "ivf_nlist": int(n**0.5)},
        "ivfpq": {"index_type": "ivfpq"},
    }
    big = {
        "auto": {"index_type": "auto"},
        "ivfpq": {"index_type": "ivfpq"},
        "hnsw": {"index_type": "hnsw"},
    }
    rows = all_items(n, mid)
    rows += all_items(n, {"auto": auto}, unclustered)
    return rows + large(100_000 if quick else 1_000_000, big)


if __name__ == "__main__":
    for row in main(quick="--quick" in sys.argv):
        print(row)
