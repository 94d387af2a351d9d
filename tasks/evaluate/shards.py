"""Evaluate in shards: each shard scores the next-item cases whose query item lies in its id
range and returns integer counts; `combine` turns the counts of all shards into metrics.

HR/MRR/NDCG, slices, coverage and popularity bias are all means over test cases, so shards
return sums and counts, never means: hits per (source, rank), cases and hits per slice
cell, and a `shown` Parquet part (items each source showed, weighted by test cases). Every
floating-point sum is then taken once, in `combine`, in a fixed order, so the metrics of
any number of shards are bit-identical to one shard's. The baselines' lists are computed
once for all test items (`baselines.py`) and read by every shard from a Parquet file.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE
from pydantic import BaseModel

from recsys import sqlrun
from recsys.config import ChannelWeights, ExportConfig
from recsys.layout import EVALUATED_PREFIX, VECTORS
from recsys.model import index
from recsys.model.embedding import Embedding
from recsys.ops.scaleout import Range, ranges, worker_id
from recsys.tasks.evaluate.gate import CHAMPION, EMBEDDING, MODEL
from recsys.tasks.evaluate.lists import channels_of, item_lists

# `sample_ppm` that scores every held-out session (evaluate/sample_share draws fewer).
ALL_SESSIONS = 1_000_000

# The next-item task's tables (the session task has its own, see sessions.py).
LIST_TABLES = {"lists": "candidates"}
HIT_TABLES = {"cases": "test_pairs", "lists": "candidates", "hits": "hits"}


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
    paired: list[tuple[str, int, int]] = []  # source, cases only the model hit, only it hit


def sample_share(stage_db: Path, max_cases: int | None) -> int:
    """The share of held-out sessions scored, in millionths (`evaluate.max_cases`)."""
    with sqlrun.connect(stage_db, read_only=True) as con:
        return int(sqlrun.run(con, "evaluate/sample_share", {"max_cases": max_cases}).fetchone()[0])


def plan(stage_db: Path, shards: int, batch: int, sample_ppm: int = ALL_SESSIONS) -> list[Range]:
    """Query-item ranges of whole search batches over the sorted test items."""
    if shards <= 1:
        return [(None, None)]
    with sqlrun.connect(stage_db, read_only=True) as con:
        params = {"lo": None, "hi": None, "sample_lo": 0, "sample_ppm": sample_ppm}
        rows = sqlrun.run(con, "evaluate/test_items", params).fetchall()
    return ranges([r[0] for r in rows], batch, shards)


class Scored(BaseModel):
    """A model to score: its vectors, scoring space, the channel weights of its item lists
    and how its session lists are made (how the evaluated model and the champion are both
    described to a shard; shards score item lists only)."""

    model_config = {"arbitrary_types_allowed": True}

    emb: Embedding
    scoring: str
    weights: ChannelWeights
    session_weights: ChannelWeights = ExportConfig.model_fields["session_weights"].default
    recency_decay: float = ExportConfig.model_fields["recency_decay"].default

    @classmethod
    def of(cls, emb: Embedding, export: ExportConfig) -> Scored:
        """The model as a run's export section serves it."""
        return cls(
            emb=emb,
            scoring=export.scoring,
            weights=export.item_weights,
            session_weights=export.session_weights,
            recency_decay=export.recency_decay,
        )


def score_shard(
    stage_db: Path,
    model: Scored,
    champion: Scored | None,
    lists_path: Path,
    count_channel: str,
    ks: list[int],
    depth: int,
    exclude_seen: bool,
    k_gate: int,
    head_share: float,
    short_max: int,
    threads: int,
    lo: str | None,
    hi: str | None,
    shown_path: Path,
    sample_ppm: int = ALL_SESSIONS,
) -> ShardCounts:
    """Score every source on the next-item cases whose query item is in [lo, hi): the
    baselines' lists read from `lists_path`, the model's (and the champion's) computed here
    with `threads` FAISS threads (see `index.search_threads`), `depth` deep, on the held-out
    sessions drawn by `sample_ppm` (see `sample_share`)."""
    index.search_threads(threads)
    bounds = {"lo": lo, "hi": hi, "sample_lo": 0, "sample_ppm": sample_ppm}
    with sqlrun.connect(stage_db, read_only=True) as con:
        sqlrun.run(con, "evaluate/pairs", bounds)
        sqlrun.run(con, "evaluate/shard_lists", {"path": str(lists_path)})
        counts = sqlrun.arrow(con, "evaluate/channel_lists", {"source": count_channel})
        items = [r[0] for r in sqlrun.run(con, "evaluate/test_items", bounds).fetchall()]
        scored = [(MODEL, model), *([(CHAMPION, champion)] if champion else [])]
        for source, m in scored:
            channels = channels_of(m.emb, m.scoring, counts, m.emb.counts)
            made = item_lists(channels, m.emb, items, depth, m.weights)
            names = {"item2vec": source, "embedding": EMBEDDING if source == MODEL else None}
            for kind, name in names.items():
                if name is not None:
                    con.register("model_neighbours", made[kind])
                    sqlrun.run(con, "evaluate/model_candidates", {"source": name}, LIST_TABLES)
            fallback = {"source": source, "fallback": "popularity"}
            sqlrun.run(con, "evaluate/cold_fallback", fallback, LIST_TABLES)
        sqlrun.run(con, "evaluate/hits", {"exclude_seen": exclude_seen}, HIT_TABLES)
        result = count(con, k_gate, head_share, short_max, shown_path)
        queries = [r[0] for r in sqlrun.run(con, "evaluate/queries").fetchall()]
    result.queries = len(queries)
    result.queries_known = int((model.emb.rows(queries) >= 0).sum())
    return result


def count(con, k_gate: int, head_share: float, short_max: int, shown_path: Path) -> ShardCounts:
    """Counts of the `test_pairs`, `candidates` and `hits` tables on `con`; the sources'
    shown items go to `shown_path`."""
    slice_params = {"head_share": head_share, "short_max": short_max}
    sqlrun.run(con, "evaluate/slice_pairs", slice_params)
    sqlrun.run(con, "evaluate/shown", {"k": k_gate, "path": str(shown_path)})
    return ShardCounts(
        worker=worker_id(),
        pairs=con.execute("select count(*) from test_pairs").fetchone()[0],
        sources=[r[0] for r in sqlrun.run(con, "evaluate/sources", idents=LIST_TABLES).fetchall()],
        hits=sqlrun.run(con, "evaluate/hit_counts", idents=HIT_TABLES).fetchall(),
        cells=sqlrun.run(con, "evaluate/slice_cells").fetchall(),
        cell_hits=sqlrun.run(con, "evaluate/slice_hits", {"k": k_gate}).fetchall(),
        paired=paired_counts(con, k_gate, HIT_TABLES),
    )


def paired_counts(con, k: int, tables: dict[str, str]) -> list[tuple[str, int, int]]:
    """(source, cases only the published lists hit, cases only the source hit) at `k`."""
    params = {"k": k, "model": MODEL}
    return sqlrun.run(con, "evaluate/paired", params, tables).fetchall()


def combine_paired(parts: list[list[tuple[str, int, int]]]) -> dict[str, list[int]]:
    """The paired counts of all shards, summed per source."""
    out: dict[str, list[int]] = {}
    for part in parts:
        for source, only_model, only_source in part:
            got = out.setdefault(source, [0, 0])
            got[0] += only_model
            got[1] += only_source
    return out


def evaluate_shard(
    model_dir: Path,
    scoring: str,
    weights: ChannelWeights,
    champion_dir: Path | None,
    champion_scoring: str | None,
    champion_weights: ChannelWeights | None,
    **shard,
) -> ShardCounts:
    """`score_shard` with the vectors read from run folders (how a Dask worker gets them);
    `shard` holds the remaining `score_shard` arguments."""
    champion = None
    if champion_dir is not None:
        champion = Scored(
            emb=load_evaluated(champion_dir), scoring=champion_scoring, weights=champion_weights
        )
    model = Scored(emb=load_evaluated(model_dir), scoring=scoring, weights=weights)
    return score_shard(model=model, champion=champion, **shard)


def load_evaluated(run_dir: Path) -> Embedding:
    """The model a run's gate evaluated: its `evaluated_*` files after a refit, else the
    served ones (runs without a refit)."""
    if (Path(run_dir) / (EVALUATED_PREFIX + VECTORS)).is_file():
        return Embedding.load(run_dir, EVALUATED_PREFIX)
    return Embedding.load(run_dir)


# The same function as a Prefect task: what a Dask worker runs.
evaluate_shard_task = task(name="evaluate-shard", cache_policy=NONE)(evaluate_shard)


def rates(hits: list[tuple[str, int, int]], sources: list[str], cases: int, ks: list[int]) -> dict:
    """HR/MRR/NDCG@K per source from hit counts (source, rank, hits) over `cases` cases."""
    by_rank: dict[str, dict[int, int]] = {s: defaultdict(int) for s in sources}
    for source, rank, n in hits:
        by_rank[source][rank] += n
    models: dict[str, dict[str, float]] = {}
    for source in sources:
        for k in ks:
            got = sorted((r, n) for r, n in by_rank[source].items() if r <= k)
            models.setdefault(source, {}).update(
                {
                    f"hr@{k}": sum(n for _, n in got) / cases,
                    f"mrr@{k}": sum(n / r for r, n in got) / cases,
                    f"ndcg@{k}": sum(n / math.log2(r + 1) for r, n in got) / cases,
                }
            )
    return models


def combine(
    stage_db: Path, parts: list[ShardCounts], shown_glob: str, ks: list[int], k_gate: int
) -> dict:
    """Metrics of all shards together: sums first, then one division per metric."""
    n_pairs = sum(p.pairs for p in parts)
    # No pairs, no metrics (evaluate refuses such a run); lists alone score nothing.
    sources = sorted({s for p in parts for s in p.sources}) if n_pairs else []
    models = rates([h for p in parts for h in p.hits], sources, n_pairs, ks) if n_pairs else {}
    if sources:
        for source, values in _beyond(stage_db, shown_glob).items():
            models[source].update(
                {f"coverage@{k_gate}": values[0], f"popularity_bias@{k_gate}": values[1]}
            )
    return {
        "models": models,
        "slices": _slices(parts, sources, k_gate),
        "pairs": n_pairs,
        "paired": combine_paired([p.paired for p in parts]),
    }


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
