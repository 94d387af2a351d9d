"""Building recommendation lists, shared by the stage and its shards: the embedding
channel's neighbours and user vectors (FAISS), the attributes the rules read, and the
business rules that flag candidates before the kept top-K are written."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys import sqlrun
from recsys.config import ExportConfig
from recsys.data.attributes import read_attributes
from recsys.errors import UsageError
from recsys.model import index
from recsys.model.embedding import Embedding
from recsys.stage import Progress

RULES = ("self", "seen", "blocklist", "allowlist", "same_attribute", "price_gap")
# The contract's column names of the two published lists (export/recs_write.sql's slots).
LIST_COLUMNS = {
    "item": {"list_id": "item_id", "item_id": "neighbor_id"},
    "user": {"list_id": "user_id", "item_id": "item_id"},
}


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
    history = sqlrun.arrow(con, "export/user_history", params)
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
        sqlrun.run(con, "export/attributes_none")
        return
    path = cfg.item_attributes
    slots = {"category": cfg.same_attribute, "price": cfg.price_column}
    if not Path(path).exists() and "://" not in path:
        raise UsageError(f"export.item_attributes: file not found: {path}")
    try:
        read_attributes(con, path)
        sqlrun.run(con, "export/attributes", idents=slots)
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
        "export/flag",
        {
            "kind": kind,
            "exclude_seen": cfg.exclude_seen,
            "use_allowlist": cfg.allowlist is not None,
            "same_attribute": cfg.same_attribute is not None,
            "price_gap": cfg.max_price_gap,
        },
    )
    written = {"path": str(path), "k": cfg.k}
    sqlrun.run(con, "export/recs_write", written, idents=LIST_COLUMNS[kind])
    removed = dict(sqlrun.run(con, "export/rule_counts").fetchall())
    return {rule: int(removed.get(rule, 0)) for rule in RULES}
