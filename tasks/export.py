"""Export: the serving FAISS index, `item_recs.parquet` and `user_recs.parquet`.

The exported lists are read from the very index that is published, so `recsys similar`
and `item_recs.parquet` agree. Filtering (self, already-seen) and ranking happen in DuckDB.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from recsys import index, sqlrun
from recsys.config import ExportConfig
from recsys.layout import RunPaths
from recsys.stage import (
    Progress,
    StageReport,
    report_artifact,
    retry_unless_deterministic,
    timed,
)
from recsys.vocab import VOCAB, Embedding

ITEM_RECS = "item_recs.parquet"
USER_RECS = "user_recs.parquet"


def item_neighbours(idx, queries: np.ndarray, emb: Embedding, cfg: ExportConfig) -> pa.Table:
    rows = np.arange(len(emb), dtype=np.int64)
    progress = Progress("export-items", len(rows))
    scores, ids = index.neighbours_without_self(
        idx, queries, rows, cfg.k, batch_size=cfg.batch_size, on_batch=progress.update
    )
    valid = ids.ravel() >= 0
    width = ids.shape[1]
    return pa.table(
        {
            "item_id": pa.array(np.repeat(emb.item_ids, width)[valid].tolist(), pa.string()),
            "rank": pa.array(np.tile(np.arange(1, width + 1), len(rows))[valid], pa.int64()),
            "neighbor_id": pa.array(emb.item_ids[ids.ravel()[valid]].tolist(), pa.string()),
            "score": pa.array(scores.ravel()[valid], pa.float32()),
            "source": pa.array([f"item2vec:{cfg.scoring}"] * int(valid.sum()), pa.string()),
        }
    )


def user_candidates(
    idx, queries: np.ndarray, con, seen: dict[str, int], cfg: ExportConfig
) -> tuple[pa.Table, int]:
    """Model candidates per user: mean of the query vectors of the user's recent items,
    searched deep enough that K unseen items remain after filtering.
    Returns (table, users placed)."""
    history = sqlrun.arrow(con, "export_user_history", {"history": cfg.user_history})
    users = np.asarray(history.column("user_id").to_pylist(), dtype=object)
    item_rows = history.column("row").to_numpy()
    if len(users) == 0:
        empty = {"user_id": pa.string(), "item_row": pa.int64(), "score": pa.float32()}
        return pa.schema(empty).empty_table(), 0
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    counts = np.diff(np.r_[starts, len(users)])
    user_vectors = np.add.reduceat(queries[item_rows], starts, axis=0) / counts[:, None]
    user_ids = users[starts]
    parts = []
    progress = Progress("export-users", len(user_ids))
    for start in range(0, len(user_ids), cfg.batch_size):
        batch = slice(start, start + cfg.batch_size)
        depth = cfg.k + (max(seen[u] for u in user_ids[batch]) if cfg.exclude_seen else 0)
        scores, ids = index.search(idx, user_vectors[batch], depth)
        width = ids.shape[1]
        flat = ids.ravel()
        valid = flat >= 0
        parts.append(
            pa.table(
                {
                    "user_id": pa.array(
                        np.repeat(user_ids[batch], width)[valid].tolist(), pa.string()
                    ),
                    "item_row": pa.array(flat[valid], pa.int64()),
                    "score": pa.array(scores.ravel()[valid], pa.float32()),
                }
            )
        )
        progress.update(min(start + cfg.batch_size, len(user_ids)))
    return pa.concat_tables(parts), len(user_ids)


def export(paths: RunPaths, cfg: ExportConfig) -> StageReport:
    """Write index.faiss, item_recs.parquet and user_recs.parquet into the run folder."""
    report = StageReport(name="export")
    with timed(report):
        emb = Embedding.load(paths.out)
        queries, indexed = emb.spaces(cfg.scoring)
        idx = index.build_exact(indexed)
        index.save(idx, paths.out)
        with sqlrun.connect(paths.stage_db, read_only=True) as con:
            con.register("vocab", con.read_parquet(str(paths.out / VOCAB)))
            con.register("item_neighbours", item_neighbours(idx, queries, emb, cfg))
            sqlrun.run(con, "export_item_recs", {"path": str(paths.out / ITEM_RECS)})
            seen = dict(sqlrun.run(con, "export_seen_counts").fetchall())
            candidates, placed = user_candidates(idx, queries, con, seen, cfg)
            con.register("user_candidates", candidates)
            sqlrun.run(
                con,
                "export_user_recs",
                {
                    "path": str(paths.out / USER_RECS),
                    "k": cfg.k,
                    "exclude_seen": cfg.exclude_seen,
                    "max_seen": max(seen.values(), default=0),
                    "source": f"item2vec:{cfg.scoring}",
                },
            )
            counts = sqlrun.fetch_one(
                con,
                "export_counts",
                params={
                    "item_recs": str(paths.out / ITEM_RECS),
                    "user_recs": str(paths.out / USER_RECS),
                },
            )
        report.rows_in = len(emb)
        report.rows_out = counts["item_recs_rows"] + counts["user_recs_rows"]
        report.details = {"items": len(emb), **counts, "users_placed_by_model": placed}
        report.details["k"] = cfg.k
    return report


@task(
    name="export",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def export_task(paths: RunPaths, cfg: ExportConfig) -> StageReport:
    report = export(paths, cfg)
    report_artifact(report)
    return report
