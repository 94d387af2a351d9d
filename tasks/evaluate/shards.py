"""Evaluate in shards: each shard scores the test pairs whose query item lies in its id
range and returns integer counts; `combine` turns the counts of all shards into metrics.

HR/MRR/NDCG, slices, coverage and popularity bias are all means over test pairs, so shards
return sums and counts, never means: hits per (source, rank), pairs and hits per slice
cell, and a `shown` Parquet part (items each source showed, weighted by test pairs). Every
floating-point sum is then taken once, in `combine`, in a fixed order, so the metrics of
any number of shards are bit-identical to one shard's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE
from pydantic import BaseModel

from recsys import sqlrun
from recsys.model import index
from recsys.model.embedding import Embedding
from recsys.ops.scaleout import Range, ranges, worker_id
from recsys.tasks.evaluate.gate import CHAMPION, MODEL


class ShardCounts(BaseModel):
    """What one shard counted (small: sources x ranks x slice cells)."""

    worker: str = ""
    pairs: int = 0
    queries: int = 0
    queries_known: int = 0
    sources: list[str] = []
    hits: list[tuple[str, int, int]] = []  # source, rank, hits
    cells: list[tuple[str, str, str, int]] = []  # target_item, session, query_item, pairs
    cell_hits: list[tuple[str, str, str, str, int, int]] = []  # source, cell, rank, hits


def model_neighbours(
    emb: Embedding, item_ids: list[str], k: int, scoring: str, batch: int
) -> pa.Table:
    """(query_id, rank, item_id): exact top-k neighbours of each id the model knows.

    Exact search: the evaluation measures the embedding itself, not an ANN approximation.
    Every id is searched, unknown ones with a stand-in row whose answer is dropped, so a
    FAISS batch holds the same rows however the ids were sharded."""
    rows = emb.rows(item_ids)
    known = rows >= 0
    queries, indexed = emb.spaces(scoring)
    _, ids = index.neighbours_without_self(
        index.build_exact(indexed), queries, np.where(known, rows, 0), k, batch_size=batch
    )
    ids = ids[known]
    width = ids.shape[1]
    flat = ids.ravel()
    valid = flat >= 0
    return pa.table(
        {
            "query_id": pa.array(
                np.repeat(np.asarray(item_ids, dtype=object)[known], width)[valid].tolist(),
                pa.string(),
            ),
            "rank": pa.array(np.tile(np.arange(1, width + 1), len(ids))[valid], pa.int64()),
            "item_id": pa.array(emb.item_ids[flat[valid]].tolist(), pa.string()),
        }
    )


def plan(stage_db: Path, shards: int, batch: int) -> list[Range]:
    """Query-item ranges of whole search batches over the sorted test items."""
    if shards <= 1:
        return [(None, None)]
    with sqlrun.connect(stage_db, read_only=True) as con:
        rows = sqlrun.run(con, "evaluate/test_items", {"lo": None, "hi": None}).fetchall()
    return ranges([r[0] for r in rows], batch, shards)


def score_shard(
    stage_db: Path,
    emb: Embedding,
    champion: tuple[Embedding, str] | None,
    scoring: str,
    ks: list[int],
    k_gate: int,
    head_share: float,
    short_max: int,
    batch: int,
    threads: int,
    lo: str | None,
    hi: str | None,
    shown_path: Path,
) -> ShardCounts:
    """Score every source on the test pairs whose query item is in [lo, hi), searching
    with `threads` FAISS threads (see `index.search_threads`)."""
    index.search_threads(threads)
    k, bounds = max(ks), {"lo": lo, "hi": hi}
    with sqlrun.connect(stage_db, read_only=True) as con:
        sqlrun.run(con, "evaluate/pairs", bounds)
        sqlrun.run(con, "evaluate/candidates")
        items = [r[0] for r in sqlrun.run(con, "evaluate/test_items", bounds).fetchall()]
        models = [(MODEL, emb, scoring), *([(CHAMPION, *champion)] if champion else [])]
        for source, model, model_scoring in models:
            con.register(
                "model_neighbours", model_neighbours(model, items, k, model_scoring, batch)
            )
            sqlrun.run(con, "evaluate/model_candidates", {"source": source})
        sqlrun.run(con, "evaluate/popularity", {"k": k})
        sqlrun.run(con, "evaluate/cooccurrence", {"k": k})
        sqlrun.run(con, "evaluate/hits")
        counts = count(con, k_gate, head_share, short_max, shown_path)
        queries = [r[0] for r in sqlrun.run(con, "evaluate/queries").fetchall()]
    counts.queries = len(queries)
    counts.queries_known = int((emb.rows(queries) >= 0).sum())
    return counts


def count(con, k_gate: int, head_share: float, short_max: int, shown_path: Path) -> ShardCounts:
    """Counts of the `test_pairs`, `candidates` and `hits` tables on `con`; the sources'
    shown items go to `shown_path`."""
    slice_params = {"head_share": head_share, "short_max": short_max}
    sqlrun.run(con, "evaluate/slice_pairs", slice_params)
    sqlrun.run(con, "evaluate/shown", {"k": k_gate, "path": str(shown_path)})
    return ShardCounts(
        worker=worker_id(),
        pairs=con.execute("select count(*) from test_pairs").fetchone()[0],
        sources=[r[0] for r in sqlrun.run(con, "evaluate/sources").fetchall()],
        hits=sqlrun.run(con, "evaluate/hit_counts").fetchall(),
        cells=sqlrun.run(con, "evaluate/slice_cells").fetchall(),
        cell_hits=sqlrun.run(con, "evaluate/slice_hits", {"k": k_gate}).fetchall(),
    )


def evaluate_shard(
    model_dir: Path, champion_dir: Path | None, champion_scoring: str | None, **shard
) -> ShardCounts:
    """`score_shard` with the vectors read from run folders (how a Dask worker gets them);
    `shard` holds the remaining `score_shard` arguments."""
    champion = None
    if champion_dir is not None:
        champion = (Embedding.load(champion_dir), champion_scoring)
    return score_shard(emb=Embedding.load(model_dir), champion=champion, **shard)


# The same function as a Prefect task: what a Dask worker runs.
evaluate_shard_task = task(name="evaluate-shard", cache_policy=NONE)(evaluate_shard)


def combine(
    stage_db: Path, parts: list[ShardCounts], shown_glob: str, ks: list[int], k_gate: int
) -> dict:
    """Metrics of all shards together: sums first, then one division per metric."""
    n_pairs = sum(p.pairs for p in parts)
    # No pairs, no metrics (evaluate refuses such a run); lists alone score nothing.
    sources = sorted({s for p in parts for s in p.sources}) if n_pairs else []
    by_rank: dict[str, dict[int, int]] = {s: defaultdict(int) for s in sources}
    for part in parts:
        for source, rank, hits in part.hits:
            by_rank[source][rank] += hits
    models: dict[str, dict[str, float]] = {}
    for source in sources:
        for k in ks:
            got = sorted((r, n) for r, n in by_rank[source].items() if r <= k)
            models.setdefault(source, {}).update(
                {
                    f"hr@{k}": sum(n for _, n in got) / n_pairs,
                    f"mrr@{k}": sum(n / r for r, n in got) / n_pairs,
                    f"ndcg@{k}": sum(n / math.log2(r + 1) for r, n in got) / n_pairs,
                }
            )
    if sources:
        for source, values in _beyond(stage_db, shown_glob).items():
            models[source].update(
                {f"coverage@{k_gate}": values[0], f"popularity_bias@{k_gate}": values[1]}
            )
    return {"models": models, "slices": _slices(parts, sources, k_gate), "pairs": n_pairs}


def _beyond(stage_db: Path, shown_glob: str) -> dict[str, tuple[float, float]]:
    with sqlrun.connect(stage_db, read_only=True) as con:
        rows = sqlrun.run(con, "evaluate/beyond", {"shown": shown_glob}).fetchall()
    out: dict[str, tuple[float, float]] = {}
    for source in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == source]  # already ordered by percentile
        items, catalogue = sum(r[3] for r in mine), mine[0][4]
        weight = sum(r[2] for r in mine)
        bias = sum(r[2] * (r[1] or 0.0) for r in mine) / weight
        out[source] = (items / catalogue if catalogue else 0.0, bias)
    return out


DIMENSIONS = ("query_item", "session", "target_item")


def _slices(parts: list[ShardCounts], sources: list[str], k_gate: int) -> list[dict]:
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    hits: dict[tuple[str, str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for part in parts:
        for *cell, n in part.cells:
            for dim, value in zip(DIMENSIONS[::-1], cell, strict=True):
                pairs[dim, value] += n
        for source, *cell, rank, n in part.cell_hits:
            for dim, value in zip(DIMENSIONS[::-1], cell, strict=True):
                hits[source, dim, value][rank] += n
    out = []
    for dim, value in sorted(pairs):
        for source in sources:
            got = sorted(hits[source, dim, value].items())
            n = pairs[dim, value]
            out.append(
                {
                    "source": source,
                    "dimension": dim,
                    "slice": value,
                    "pairs": n,
                    f"hr@{k_gate}": sum(h for _, h in got) / n,
                    f"mrr@{k_gate}": sum(h / r for r, h in got) / n,
                }
            )
    return out
