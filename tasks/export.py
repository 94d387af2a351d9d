"""Export: the serving FAISS index, `item_recs.parquet` and `user_recs.parquet`.

The index type follows the catalogue size (exact / HNSW / IVF-PQ, see recsys.index) and its
recall@K against exact search is measured here, on a fixed sample, and written to
`index.json`; publish refuses an index below `export.min_recall`. The exported lists are
read from that very index, so `recsys similar` and `item_recs.parquet` agree.

Candidates (embedding channel, optional co-occurrence channel, cold-start fallbacks) go to
DuckDB, where the business rules flag what they remove (`sql/export_flag.sql`) and the
survivors are ranked; the same rules apply to item and user lists.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NONE

from recsys import index, sqlrun
from recsys.attributes import read_attributes
from recsys.config import ExportConfig, OpsConfig
from recsys.errors import UsageError
from recsys.layout import RunPaths
from recsys.scaleout import Mapper, inline, run_shards, shard_count
from recsys.stage import (
    Progress,
    StageReport,
    report_artifact,
    retry_unless_deterministic,
    timed,
)
from recsys.vocab import Embedding

RULES = ("self", "seen", "blocklist", "allowlist", "same_attribute", "price_gap")
ITEM_RECS = "item_recs.parquet"
USER_RECS = "user_recs.parquet"


def item_neighbours(
    idx, queries: np.ndarray, emb: Embedding, rows: np.ndarray, depth: int, cfg
) -> pa.Table:
    """(list_id, item_id, score, rank): the `depth` nearest neighbours of the items at
    `rows` (searched in this order, in batches of `cfg.batch_size`)."""
    progress = Progress("export-items", len(rows))
    scores, ids = index.neighbours_without_self(
        idx, queries, rows, depth, batch_size=cfg.batch_size, on_batch=progress.update
    )
    valid = ids.ravel() >= 0
    width = ids.shape[1]
    return pa.table(
        {
            "list_id": pa.array(np.repeat(emb.item_ids[rows], width)[valid].tolist(), pa.string()),
            "item_id": pa.array(emb.item_ids[ids.ravel()[valid]].tolist(), pa.string()),
            "score": pa.array(scores.ravel()[valid], pa.float32()),
            "rank": pa.array(np.tile(np.arange(1, width + 1), len(rows))[valid], pa.int64()),
        }
    )


def user_vectors(history: pa.Table, queries: np.ndarray, decay: float):
    """Recency-weighted mean of the query vectors of each user's recent items.

    `history` rows are grouped by user, newest first (`recency` 0); weight = decay**recency.
    Returns (user ids as an Arrow string array, vectors). Ids stay in Arrow: a Python
    string per history row costs seconds at 10M events."""
    users = history.column("user_id").combine_chunks()
    rows = history.column("row").to_numpy()
    weights = decay ** history.column("recency").to_numpy().astype(np.float32)
    changed = pc.not_equal(users.slice(1), users.slice(0, len(users) - 1))
    starts = np.flatnonzero(np.r_[True, changed.to_numpy(zero_copy_only=False)])
    summed = np.add.reduceat(queries[rows] * weights[:, None], starts, axis=0)
    return users.take(pa.array(starts)), summed / np.add.reduceat(weights, starts)[:, None]


def user_candidates(
    idx, queries: np.ndarray, con, seen: dict[str, int], cfg, users: tuple = (None, None)
) -> pa.Table:
    """(user_id, item_row, score): ANN hits for each placed user in the id range `users`.

    A user's list is searched `overfetch * K` deep plus the number of items the user has
    seen, so K items survive the already-seen filter and the rules; a batch is searched as
    deep as its deepest user and each user's hits are cut to that user's depth (at 10M
    events the batch maximum alone doubled the rows the rules then had to sort)."""
    lo, hi = users
    params = {"history": cfg.user_history, "lo": lo, "hi": hi}
    history = sqlrun.arrow(con, "export_user_history", params)
    empty = {"user_id": pa.string(), "item_row": pa.int64(), "score": pa.float32()}
    if history.num_rows == 0:
        return pa.schema(empty).empty_table()
    user_ids, vectors = user_vectors(history, queries, cfg.recency_decay)
    depths = np.full(len(user_ids), cfg.overfetch * cfg.k, dtype=np.int64)
    if cfg.exclude_seen:
        depths += np.array([seen.get(u, 0) for u in user_ids.to_pylist()], dtype=np.int64)
    parts = [pa.schema(empty).empty_table()]
    progress = Progress("export-users", len(user_ids))
    for start in range(0, len(user_ids), cfg.batch_size):
        stop = min(start + cfg.batch_size, len(user_ids))
        depth = depths[start:stop]
        scores, ids = index.search(idx, vectors[start:stop], int(depth.max()))
        keep = (ids >= 0) & (np.arange(ids.shape[1])[None, :] < depth[:, None])
        owner = np.broadcast_to(np.arange(start, stop)[:, None], ids.shape)[keep]
        parts.append(
            pa.table(
                {
                    "user_id": user_ids.take(pa.array(owner)),
                    "item_row": pa.array(ids[keep], pa.int64()),
                    "score": pa.array(scores[keep], pa.float32()),
                }
            )
        )
        progress.update(stop)
    return pa.concat_tables(parts)


def load_attributes(con, cfg: ExportConfig) -> None:
    """Temp table `item_attributes` (item_id, category, price); empty without a file."""
    if not cfg.item_attributes:
        sqlrun.run(con, "export_attributes_none")
        return
    path = cfg.item_attributes
    slots = {"category": cfg.same_attribute, "price": cfg.price_column}
    if not Path(path).exists() and "://" not in path:
        raise UsageError(f"export.item_attributes: file not found: {path}")
    try:
        read_attributes(con, path)
        sqlrun.run(con, "export_attributes", idents=slots)
    except duckdb.BinderException as exc:
        wanted = ", ".join(c for c in ("item_id", *slots.values()) if c)
        raise UsageError(
            f"export.item_attributes {path}: needs columns {wanted} ({str(exc).splitlines()[0]})"
        ) from exc


def filter_and_write(con, kind: str, cfg: ExportConfig, path: Path) -> dict[str, int]:
    """Flag the `candidates` table with the business rules, write the kept top-K to
    `path`; returns rows removed per rule."""
    sqlrun.run(
        con,
        "export_flag",
        {
            "kind": kind,
            "exclude_seen": cfg.exclude_seen,
            "use_allowlist": cfg.allowlist is not None,
            "same_attribute": cfg.same_attribute is not None,
            "price_gap": cfg.max_price_gap,
        },
    )
    sqlrun.run(con, f"export_{kind}_recs", {"path": str(path), "k": cfg.k})
    removed = dict(sqlrun.run(con, "export_rule_counts").fetchall())
    return {rule: int(removed.get(rule, 0)) for rule in RULES}


def build_index(paths: RunPaths, emb: Embedding, cfg: ExportConfig):
    """Build, recall-check and save the serving index; returns (index, queries, info)."""
    queries, indexed = emb.spaces(cfg.scoring)
    idx, info = index.build(indexed, cfg)
    info["recall_k"] = min(cfg.k, len(emb))
    recall = index.tune_recall(
        idx, info, queries, indexed, info["recall_k"], cfg.recall_target, cfg.recall_sample
    )
    info["recall"] = round(recall, 4)
    info["min_recall"] = cfg.min_recall
    index.save(idx, paths.out, info)
    return idx, queries, info


def export(
    paths: RunPaths, cfg: ExportConfig, shards: int = 1, mapper: Mapper | None = None
) -> StageReport:
    """Write index.faiss + index.json, item_recs.parquet and user_recs.parquet.

    The lists are built in `shards` shards (ranges of item and user ids, see
    tasks/export_shards.py) run by `mapper` (default: here, one after the other); each
    writes its own Parquet parts, concatenated in id order into the published files."""
    from recsys.tasks import export_shards

    report = StageReport(name="export")
    with timed(report):
        emb = Embedding.load(paths.out)
        _, _, info = build_index(paths, emb, cfg)
        calls = export_shards.plan(paths, emb, cfg, shards)
        parts = (mapper or inline(export_shards.export_shard))(calls)
        for kind, name in (("item", ITEM_RECS), ("user", USER_RECS)):
            export_shards.concat([c[f"{kind}_path"] for c in calls], paths.out / name)
        shutil.rmtree(paths.work_dir / "export-shards", ignore_errors=True)
        item_rules = {r: sum(p["item"][r] for p in parts) for r in RULES}
        user_rules = {r: sum(p["user"][r] for p in parts) for r in RULES}
        with sqlrun.connect(paths.stage_db, read_only=True) as con:
            counts = sqlrun.fetch_one(
                con,
                "export_counts",
                params={
                    "item_recs": str(paths.out / ITEM_RECS),
                    "user_recs": str(paths.out / USER_RECS),
                },
            )
            sqlrun.run(con, "evaluate_pairs", {"lo": None, "hi": None})
            hr = sqlrun.fetch_one(
                con, "export_list_hr", params={"path": str(paths.out / ITEM_RECS), "k": cfg.k}
            )
        report.rows_in = len(emb)
        report.rows_out = counts["item_recs_rows"] + counts["user_recs_rows"]
        report.details = {
            "index": info["kind"],
            "index recall@k": info["recall"],
            "index build seconds": info["build_seconds"],
            "index bytes per vector": info["bytes_per_vector"],
            "items": len(emb),
            **counts,
            f"item_recs hr@{cfg.k} (test split)": round(hr["hr"] or 0.0, 4),
            "cooccurrence_weight": cfg.cooccurrence_weight,
            **{f"item rule {k} removed": v for k, v in item_rules.items()},
            **{f"user rule {k} removed": v for k, v in user_rules.items()},
        }
        report.details["k"] = cfg.k
        report.details["shards"] = len(calls)
        report.details["shard workers"] = ", ".join(sorted({p["worker"] for p in parts}))
    return report


def _sample_markdown(paths: RunPaths) -> str:
    import pyarrow.parquet as pq

    lines = []
    for name in (ITEM_RECS, USER_RECS):
        rows = pq.read_table(paths.out / name).slice(0, 5).to_pylist()
        if rows:
            lines += [f"#### {name} (first rows)", "", "| " + " | ".join(rows[0]) + " |"]
            lines.append("|" + "---|" * len(rows[0]))
            lines += ["| " + " | ".join(str(v) for v in r.values()) + " |" for r in rows]
            lines.append("")
    return "\n".join(lines)


@task(
    name="export",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def export_task(paths: RunPaths, cfg: ExportConfig, ops: OpsConfig | None = None) -> StageReport:
    from recsys.tasks.export_shards import export_shard_task

    shards = shard_count(ops)
    mapper = lambda calls: run_shards(export_shard_task, calls, ops)  # noqa: E731
    report = export(paths, cfg, shards, mapper)
    report_artifact(report, _sample_markdown(paths))
    return report
