"""Building recommendation lists, shared by the stage and its shards: the model's channels
(embedding through the serving index, the count channel, popularity) fused per list
(recsys/model/scoring.py), the attributes the rules read, and the business rules that flag
candidates before the kept top-K are written."""

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
from recsys.model.embedding import Embedding
from recsys.model.scoring import Channels, decay_weights, fuse, source_array
from recsys.stage import Progress

RULES = ("self", "seen", "blocklist", "allowlist", "same_attribute", "price_gap")
# The contract's column names of the two published lists (export/recs_write.sql's slots).
LIST_COLUMNS = {
    "item": {"list_id": "item_id", "item_id": "neighbor_id"},
    "user": {"list_id": "user_id", "item_id": "item_id"},
}


def kept_per_list(cfg: ExportConfig) -> int:
    """How many fused candidates a list hands to the business rules (beyond the items a
    user has seen): `overfetch * K` when rules that can empty a list are configured
    (blocklist, allow-list, attributes, price gap), else just K, which the rules then keep
    unchanged. The channels are still searched `overfetch * K` deep either way, so the
    fused top K are the same; only the rows sorted and written in DuckDB shrink."""
    rules = (
        cfg.blocklist
        or cfg.allowlist is not None
        or cfg.same_attribute is not None
        or cfg.max_price_gap is not None
    )
    return cfg.overfetch * cfg.k if rules else cfg.k


def item_neighbours(
    channels: Channels, emb: Embedding, rows: np.ndarray, depth: int, cfg: ExportConfig
) -> pa.Table:
    """(list_id, item_id, score, rank, source): the fused best of the items at `rows` (in
    batches of `cfg.batch_size`, channels searched `depth` deep, `kept_per_list` kept),
    never the item itself."""
    names = ("item2vec", cfg.count_channel, "popularity")
    kept = min(kept_per_list(cfg), depth)
    progress = Progress("export-items", len(rows))
    parts = [_empty_item_table()]
    for start in range(0, len(rows), cfg.batch_size):
        batch = rows[start : start + cfg.batch_size]
        weights = cfg.item_weights.of()
        ids, scores, mask = fuse(channels.for_items(batch, depth, weights), weights, kept)
        valid = ids.ravel() >= 0
        width = ids.shape[1]
        parts.append(
            pa.table(
                {
                    "list_id": emb.ids.take(pa.array(np.repeat(batch, width)[valid])),
                    "item_id": emb.ids.take(pa.array(ids.ravel()[valid])),
                    "score": pa.array(scores.ravel()[valid], pa.float32()),
                    "rank": pa.array(
                        np.tile(np.arange(1, width + 1), len(batch))[valid], pa.int64()
                    ),
                    "source": source_array(mask.ravel()[valid], names),
                }
            )
        )
        progress.update(min(start + cfg.batch_size, len(rows)))
    return pa.concat_tables(parts)


def _empty_item_table() -> pa.Table:
    return pa.schema(
        {
            "list_id": pa.string(),
            "item_id": pa.string(),
            "score": pa.float32(),
            "rank": pa.int64(),
            "source": pa.string(),
        }
    ).empty_table()


def user_candidates(
    channels: Channels,
    con,
    seen: dict[str, int],
    cfg: ExportConfig,
    users: tuple,
    progress: Progress,
) -> pa.Table:
    """(user_id, item_row, score, pos, source): the fused lists of each user in the id range
    `users`, queried with the user's `user_history` most recent items (decay-weighted).

    A user's channels are searched `overfetch * K` deep plus the number of items the user
    has seen, and `kept_per_list` plus that number are kept, so K items survive the
    already-seen filter and the rules. A batch is searched as deep as its deepest user,
    then each user's channel lists are cut to that user's own depth before fusing: min-max
    scaling over a deeper list would move the user's scores, so a list would depend on who
    else shared its batch (and differ from `POST /recommend` with the same items). Fused
    lists are cut to each user's kept length (at 10M events the batch maximum alone doubled
    the rows the rules then had to sort). `progress` counts on from where an earlier part of
    the users left it."""
    lo, hi = users
    params = {"history": cfg.user_history, "lo": lo, "hi": hi}
    history = sqlrun.arrow(con, "export/user_history", params)
    empty = {
        "user_id": pa.string(),
        "item_row": pa.int64(),
        "score": pa.float32(),
        "pos": pa.int64(),
        "source": pa.string(),
    }
    if history.num_rows == 0:
        return pa.schema(empty).empty_table()
    user_ids, owner = _owners(history.column("user_id").combine_chunks())
    rows = history.column("row").to_numpy()
    weights = decay_weights(history.column("recency").to_numpy(), cfg.recency_decay)
    depths = np.full(len(user_ids), cfg.overfetch * cfg.k, dtype=np.int64)
    kept = np.full(len(user_ids), kept_per_list(cfg), dtype=np.int64)
    if cfg.exclude_seen:
        seen_n = np.array([seen.get(u, 0) for u in user_ids.to_pylist()], dtype=np.int64)
        depths += seen_n
        kept += seen_n
    names = ("item2vec", cfg.count_channel, "popularity")
    parts = [pa.schema(empty).empty_table()]
    done = progress.done
    starts = np.searchsorted(owner, np.arange(0, len(user_ids), cfg.batch_size))
    bounds = [*starts.tolist(), len(owner)]
    for b, start in enumerate(range(0, len(user_ids), cfg.batch_size)):
        stop = min(start + cfg.batch_size, len(user_ids))
        depth = depths[start:stop]
        lo_row, hi_row = bounds[b], bounds[b + 1]
        lists = channels.for_sessions(
            owner[lo_row:hi_row] - start,
            rows[lo_row:hi_row],
            weights[lo_row:hi_row],
            stop - start,
            int(depth.max()),
            cfg.session_weights.of(),
        )
        lists = [_cut(ids, scores, depth) for ids, scores in lists]
        width = int(kept[start:stop].max())
        ids, scores, mask = fuse(lists, cfg.session_weights.of(), width)
        keep = (ids >= 0) & (np.arange(width)[None, :] < kept[start:stop, None])
        who = np.broadcast_to(np.arange(start, stop)[:, None], ids.shape)[keep]
        pos = np.broadcast_to(np.arange(1, width + 1)[None, :], ids.shape)[keep]
        parts.append(
            pa.table(
                {
                    "user_id": user_ids.take(pa.array(who)),
                    "item_row": pa.array(ids[keep], pa.int64()),
                    "score": pa.array(scores[keep], pa.float32()),
                    "pos": pa.array(pos, pa.int64()),
                    "source": source_array(mask[keep], names),
                }
            )
        )
        progress.update(done + stop)
    return pa.concat_tables(parts)


def _cut(ids: np.ndarray, scores: np.ndarray, depth: np.ndarray) -> tuple:
    """A channel's lists with row i cut to its first depth[i] entries (-1 beyond)."""
    if ids.shape[1] == 0 or (depth >= ids.shape[1]).all():
        return ids, scores
    beyond = np.arange(ids.shape[1])[None, :] >= depth[:, None]
    return np.where(beyond, -1, ids), scores


def _owners(users: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(each user once, in order; the user index of every history row). History rows come
    grouped by user; ids stay in Arrow (a Python string per row costs seconds at 10M)."""
    changed = pc.not_equal(users.slice(1), users.slice(0, len(users) - 1))
    first = np.r_[True, changed.to_numpy(zero_copy_only=False)]
    return users.filter(pa.array(first)), np.cumsum(first) - 1


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
