"""FAISS helpers: the one place vectors are scored, indexed and searched.

Four scorings (`export.scoring`):

- ``sym`` (default): in·out + out·in. Skip-gram with negative sampling trains
  ``in_i · out_j`` towards the (shifted) PMI of i and j, and ``in_j · out_i`` towards the same
  quantity from the other side; their sum averages two noisy estimates of one number.
  Served by concatenation: query ``[in_i, out_i]``, index ``[out_j, in_j]``. On three real
  logs it beat ``in_out`` on whole-session recall by 5-60% (docs/evaluation.md).
- ``in_out``: query = the item's input vector, index = output (context) vectors, score =
  their raw inner product, the logit the model is trained to maximise for items that occur
  together (the "dual embedding space" reading of Mitra et al. 2016).
- ``in_in``: cosine of input vectors (classic item2vec similarity): "items like this one".
- ``sym_in_out``: session and user queries as ``sym``, single-item queries as ``in_out``,
  from the one ``sym`` index: an item's query ``[in_i, 0]`` scores ``in_i · out_j`` there.
  The two list kinds want different spaces once the negative-sampling exponent moves
  towards 0 (at ``ns_exponent`` 0 on ml-100k: item lists 0.250 with ``in_out`` vs 0.238
  with ``sym``, session lists 0.311 with ``sym`` vs 0.280 with ``in_out``).

A session or user is queried with the decay-weighted sum of its items' query vectors, which
every scoring supports (the score of a sum is the sum of the scores).

Only numpy and faiss are imported here, so serving (`recsys similar`) needs no training
library. The index files' names are `layout.INDEX_FILE` and `layout.INDEX_INFO`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from recsys.layout import INDEX_FILE, INDEX_INFO


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (zero rows stay zero) as contiguous float32."""
    out = np.ascontiguousarray(vectors, dtype=np.float32).copy()
    faiss.normalize_L2(out)
    return out


SCORINGS = ("sym", "in_out", "in_in", "sym_in_out")


def spaces(vectors: np.ndarray, context: np.ndarray, scoring: str) -> tuple[np.ndarray, np.ndarray]:
    """(query vectors, indexed vectors) for a scoring; row i of both is vocabulary row i."""
    if scoring == "in_in":
        unit = normalize(vectors)
        return unit, unit
    return side(vectors, context, scoring), side(vectors, context, scoring, indexed=True)


def side(
    vectors: np.ndarray, context: np.ndarray, scoring: str, indexed: bool = False
) -> np.ndarray:
    """One side of `spaces` (the query side, or the `indexed` one) as a contiguous float32
    array: row-wise, so the rows of a subset are those rows of the whole space (a server
    computes only the side and rows an answer needs)."""
    if scoring == "in_in":
        return normalize(vectors)
    first, second = (context, vectors) if indexed else (vectors, context)
    if scoring == "in_out":
        return np.ascontiguousarray(first, dtype=np.float32)
    if scoring in ("sym", "sym_in_out"):
        return np.concatenate([first, second], axis=1, dtype=np.float32)
    raise ValueError(f"unknown scoring '{scoring}' (use one of {SCORINGS})")


# Scorings that share one index (the `sym` one): only how a single item queries it differs.
ITEM_SCORINGS = ("sym", "sym_in_out")


def item_side(vectors: np.ndarray, context: np.ndarray, scoring: str) -> np.ndarray | None:
    """The query side of single-item lists where it differs from `side` (``sym_in_out``: an
    item's query is ``[in_i, 0]`` against the ``sym`` index, its ``in_out`` score); None
    for every other scoring."""
    if scoring != "sym_in_out":
        return None
    zeros = np.zeros_like(context, dtype=np.float32)
    return np.concatenate([vectors, zeros], axis=1, dtype=np.float32)


def search_threads(threads: int | None = None) -> int:
    """FAISS's OpenMP thread count, set first when `threads` is given.

    Its BLAS kernels split a batch's work by thread count, and scores differ in the last
    bits with another split (measured: 1 vs 2 threads on 20k x 64). Shards pass the flow
    process's count to their workers (a Dask worker starts with OMP_NUM_THREADS=1), so a
    batch is scored alike wherever it runs."""
    if threads:
        faiss.omp_set_num_threads(int(threads))
    return faiss.omp_get_max_threads()


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
    # Keep the first k entries that are not the query itself. When k reaches the catalogue
    # the search returns every item, itself included, and the cut keeps it: blank it (-1,
    # "no neighbour") so the item is never its own neighbour whatever k is.
    order = np.argsort(own, axis=1, kind="stable")[:, :k]
    rows_of = np.arange(len(order))[:, None]  # (take_along_axis costs more per call)
    kept = np.where(own[rows_of, order], -1, ids[rows_of, order])
    return scores[rows_of, order], kept


def choose_kind(n_items: int, cfg: Any) -> str:
    """The index type for a catalogue of `n_items` under an ExportConfig: under 'auto',
    exact up to `flat_max_items`, IVF-Flat up to `ivfflat_max_items`, IVF-PQ above (and
    `build_tuned` may still fall back to exact, see there)."""
    if cfg.index_type != "auto":
        return cfg.index_type
    if n_items <= cfg.flat_max_items:
        return "flat"
    return "ivfflat" if n_items <= cfg.ivfflat_max_items else "ivfpq"


def build(indexed: np.ndarray, cfg: Any) -> tuple[faiss.Index, dict]:
    """Build the serving index (inner-product metric for every kind) and describe it.

    Returns (index, info) where info holds the kind, its search parameters and the build
    time; every kind scores by inner product, so both scorings keep their meaning.
    """
    indexed = np.ascontiguousarray(indexed, dtype=np.float32)
    n, dim = indexed.shape
    kind = choose_kind(n, cfg)
    start = time.perf_counter()
    info: dict[str, Any] = {"kind": kind, "items": n, "dim": dim}
    if kind == "flat":
        idx = build_exact(indexed)
    elif kind == "hnsw":
        idx = faiss.IndexHNSWFlat(dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = cfg.hnsw_ef_construction
        idx.add(indexed)
        info.update(m=cfg.hnsw_m, ef_construction=cfg.hnsw_ef_construction)
        info["ef_search"] = cfg.hnsw_ef_search
    elif kind == "ivfflat":
        nlist = _nlist(n, cfg)
        idx = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        idx.train(_training_sample(indexed, nlist))
        idx.add(indexed)
        info.update(nlist=nlist, nprobe=cfg.ivf_nprobe)
    else:
        idx, params = _build_ivfpq(indexed, cfg)
        info.update(params)
    info["build_seconds"] = round(time.perf_counter() - start, 3)
    configure(idx, info)
    return idx, info


def _nlist(n: int, cfg: Any) -> int:
    return cfg.ivf_nlist or max(1, min(int(4 * np.sqrt(n)), n // 39))


def _training_sample(indexed: np.ndarray, nlist: int) -> np.ndarray:
    # FAISS needs ~39 training points per centroid; more only slows training down.
    rng = np.random.default_rng(0)
    return indexed[rng.choice(len(indexed), min(len(indexed), 64 * nlist), replace=False)]


def _build_ivfpq(indexed: np.ndarray, cfg: Any) -> tuple[faiss.Index, dict]:
    n, dim = indexed.shape
    nlist = _nlist(n, cfg)
    pq_m = cfg.pq_m or max(1, dim // 2)
    if dim % pq_m:
        raise ValueError(f"export.pq_m={pq_m} must divide the vector size {dim}")
    # 8-bit codes need 256 training points per sub-quantizer; tiny catalogues get fewer bits.
    nbits = 8 if n >= 1024 else max(2, int(np.log2(n)) - 1)
    quantizer = faiss.IndexFlatIP(dim)
    base = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, nbits, faiss.METRIC_INNER_PRODUCT)
    idx: faiss.Index = base
    if cfg.pq_refine:
        refine = faiss.IndexScalarQuantizer(
            dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        idx = faiss.IndexRefine(base, refine)
        idx.k_factor = 4.0
    idx.train(_training_sample(indexed, nlist))
    idx.add(indexed)
    refine_info = {"refine": "SQ8", "k_factor": 4.0} if cfg.pq_refine else {"refine": None}
    return idx, {
        "nlist": nlist,
        "pq_m": pq_m,
        "pq_nbits": nbits,
        "nprobe": cfg.ivf_nprobe,
        **refine_info,
    }


def configure(idx: faiss.Index, info: dict) -> None:
    """Apply the search-time parameters recorded in `info` (after build or load)."""
    if info.get("kind") == "hnsw":
        faiss.downcast_index(idx).hnsw.efSearch = int(info["ef_search"])
    elif info.get("kind") in ("ivfpq", "ivfflat"):
        faiss.extract_index_ivf(idx).nprobe = int(info["nprobe"])
        if info.get("refine"):
            faiss.downcast_index(idx).k_factor = float(info["k_factor"])


def sample_truth(
    queries: np.ndarray, indexed: np.ndarray, k: int, sample: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(sampled query rows, their exact top-k ids): what recall is measured against."""
    n = len(queries)
    rows = np.random.default_rng(seed).choice(n, min(sample, n), replace=False)
    k = min(k, len(indexed))
    _, truth = build_exact(indexed).search(np.ascontiguousarray(queries[rows]), k)
    return rows, truth


def _recall(idx: faiss.Index, queries: np.ndarray, rows: np.ndarray, truth: np.ndarray) -> float:
    _, found = search(idx, queries[rows], truth.shape[1])
    hits = sum(len(np.intersect1d(t[t >= 0], f[f >= 0])) for t, f in zip(truth, found, strict=True))
    return float(hits / max(1, (truth >= 0).sum()))


def recall_at_k(
    idx: faiss.Index,
    queries: np.ndarray,
    indexed: np.ndarray,
    k: int,
    sample: int,
    seed: int = 0,
) -> float:
    """Mean recall@k of `idx` against exact inner-product search on sampled query rows.

    Each query's own row is searched too (in_out scores it like any item), so both lists
    are compared exactly as the index answers them.
    """
    rows, truth = sample_truth(queries, indexed, min(k, idx.ntotal), sample, seed)
    return _recall(idx, queries, rows, truth)


BEAMS = {"hnsw": "ef_search", "ivfflat": "nprobe", "ivfpq": "nprobe"}


def tune_recall(
    idx: faiss.Index,
    info: dict,
    queries: np.ndarray,
    indexed: np.ndarray,
    k: int,
    target: float,
    sample: int,
    ceiling: int | None = None,
    truth: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """Double the search beam (efSearch / nprobe) until sampled recall@k reaches `target`
    or the beam hits its ceiling (`ceiling`, default efSearch 1024 / nprobe = nlist), then
    bisect back to the smallest beam found that still reaches it (within 1/8); updates
    `info` in place and returns the final recall.

    Search parameters cost nothing to change after the build, so defaults can be fast and
    the recall is still made sure on the actual vectors. The exact answers of the sample
    (`truth`: rows and ids, see `sample_truth`) are computed once.
    """
    rows, truth = truth or sample_truth(queries, indexed, min(k, idx.ntotal), sample)
    recall = _recall(idx, queries, rows, truth)
    key = BEAMS.get(info["kind"])
    top = {"ef_search": 1024, "nprobe": info.get("nlist", 1)}.get(key, 0)
    ceiling = min(top, ceiling) if ceiling else top
    tried = [(info.get(key), round(recall, 4))] if key else []
    failed = None
    while key and recall < target and info[key] < ceiling:
        failed = info[key]
        info[key] = min(info[key] * 2, ceiling)
        configure(idx, info)
        recall = _recall(idx, queries, rows, truth)
        tried.append((info[key], round(recall, 4)))
    if key and failed is not None and recall >= target:
        good, good_recall = info[key], recall
        while good - failed > max(1, good // 8):
            info[key] = (failed + good) // 2
            configure(idx, info)
            mid = _recall(idx, queries, rows, truth)
            tried.append((info[key], round(mid, 4)))
            if mid >= target:
                good, good_recall = info[key], mid
            else:
                failed = info[key]
        info[key], recall = good, good_recall
        configure(idx, info)
    info["recall_tuning"] = tried
    return recall


def build_tuned(
    queries: np.ndarray, indexed: np.ndarray, k: int, cfg: Any
) -> tuple[faiss.Index, dict]:
    """The serving index as export builds it: built, its beam tuned to
    `cfg.recall_target` on `cfg.recall_sample` queries, its recall recorded in `info`.

    Under `index_type=auto` IVF-Flat is tried first and kept only if it reaches the target
    while probing at most `cfg.ivf_max_scan` of its lists: vectors that do not cluster
    (the top-k spread over most lists, as item2vec's inner-product neighbours often do)
    would make it slower than one exact matrix product, so the exact index serves then,
    and `info["auto"]` says why. `build_seconds` counts the tuning (and a fallback)."""
    start = time.perf_counter()
    idx, info = build(indexed, cfg)
    auto_ivf = cfg.index_type == "auto" and info["kind"] == "ivfflat"
    ceiling = max(1, int(cfg.ivf_max_scan * info["nlist"])) if auto_ivf else None
    truth = sample_truth(queries, indexed, min(k, idx.ntotal), cfg.recall_sample)
    recall = 0.0
    if auto_ivf:  # one search at the widest allowed beam settles whether IVF can serve
        configure(idx, {**info, "nprobe": ceiling})
        recall = _recall(idx, queries, *truth)
        info["recall_tuning"] = [(ceiling, round(recall, 4))]
        configure(idx, info)
    if not auto_ivf or recall >= cfg.recall_target:
        recall = tune_recall(
            idx, info, queries, indexed, k, cfg.recall_target, cfg.recall_sample, ceiling, truth
        )
    if auto_ivf and recall < cfg.recall_target:
        tried = {
            "tried": "ivfflat",
            "nlist": info["nlist"],
            "recall_tuning": info["recall_tuning"],
            "reason": f"recall@{k} {recall:.4f} < {cfg.recall_target} within "
            f"{cfg.ivf_max_scan:.0%} of the lists: exact search is as fast",
        }
        idx = build_exact(indexed)
        info = {"kind": "flat", "items": len(indexed), "dim": indexed.shape[1], "auto": tried}
        recall = 1.0
    info["build_seconds"] = round(time.perf_counter() - start, 3)
    info["recall_k"] = min(k, len(indexed))
    info["recall"] = round(recall, 4)
    if info["kind"] in ("ivfflat", "ivfpq"):
        info["scanned_share"] = round(info["nprobe"] / info["nlist"], 4)
    return idx, info


def save(idx: faiss.Index, folder: Path, info: dict) -> Path:
    """Write index.faiss and index.json (with bytes per vector measured on disk)."""
    path = Path(folder) / INDEX_FILE
    faiss.write_index(idx, str(path))
    info["bytes_per_vector"] = round(path.stat().st_size / max(1, idx.ntotal), 1)
    (Path(folder) / INDEX_INFO).write_text(json.dumps(info, indent=2))
    return path


def load(folder: Path) -> faiss.Index:
    """Read the index into memory and re-apply its recorded search parameters. Not mapped
    (`IO_FLAG_MMAP_IFC`): a server's index truncated in place under it died of SIGBUS."""
    idx = faiss.read_index(str(Path(folder) / INDEX_FILE))
    info_path = Path(folder) / INDEX_INFO
    if info_path.is_file():
        configure(idx, json.loads(info_path.read_text()))
    return idx
