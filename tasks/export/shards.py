"""Export in shards: each shard builds the item lists of one item-id range and the user lists
of one user-id range, and writes them as its own Parquet parts.

A shard opens the stage DuckDB read-only and loads the saved serving index and vectors from
the run folder (paths only, so it can run on a Dask worker). Ranges follow the published
files' order (item_id, user_id) and start at whole FAISS batches of that order, so the
parts concatenated in shard order are the unsharded files, row for row. What depends on all
users (the popularity fallback's depth) is computed once, in `plan`.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import ExportConfig
from recsys.layout import COUNT_LISTS, EXPORT_SHARDS, ITEM_RECS, USER_RECS, VOCAB, RunPaths
from recsys.model import index
from recsys.model.embedding import Embedding
from recsys.model.published import channels_of, item_depth
from recsys.ops.scaleout import Range, ranges, worker_id
from recsys.stage import Progress
from recsys.tasks.export.lists import (
    RULES,
    filter_and_write,
    item_neighbours,
    load_attributes,
    user_candidates,
)

EMPTY: Range = ("", "")  # no id is >= "" and < ""
# Users whose lists are built at once: ~15 KB of candidates each at export.k 50 (the
# depth grows with the items a user has seen), so ~1.5 GB a part.
USERS_PER_PART = 100_000


def plan(paths: RunPaths, emb: Embedding, cfg: ExportConfig, shards: int) -> list[dict]:
    """One call per shard: its item range, its user range cut into parts (`user_parts`),
    search depths and part paths."""
    depth = item_depth(cfg.overfetch, cfg.k, len(emb))
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        con.register("vocab", con.read_parquet(str(paths.out / VOCAB)))
        starts = sqlrun.run(con, "export/user_starts", {"batch": cfg.batch_size}).fetchall()
    max_seen = starts[0][1] if starts else 0
    batch_starts = [u for u, _ in starts]
    if shards <= 1:
        item_ranges, user_ranges = [(None, None)], [(None, None)]
    else:
        item_ranges = ranges(sorted(emb.item_ids.tolist()), cfg.batch_size, shards)
        user_ranges = ranges(batch_starts, 1, shards)  # starts are whole batches
    n = max(len(item_ranges), len(user_ranges))
    item_ranges += [EMPTY] * (n - len(item_ranges))
    user_ranges += [EMPTY] * (n - len(user_ranges))
    scratch = paths.work_dir / EXPORT_SHARDS
    if n > 1:
        scratch.mkdir(parents=True, exist_ok=True)
    calls = []
    for i in range(n):
        # One shard writes the published files directly.
        user_path = paths.out / USER_RECS if n == 1 else scratch / f"users-{i:04d}.parquet"
        calls.append(
            {
                "stage_db": paths.stage_db,
                "model_dir": paths.out,
                "cfg": cfg,
                "items": item_ranges[i],
                "users": user_ranges[i],
                "user_parts": user_parts(
                    user_ranges[i], batch_starts, cfg.batch_size, user_path, scratch
                ),
                "depth": depth,
                "max_seen": max_seen,
                "threads": index.search_threads(),
                "item_path": paths.out / ITEM_RECS
                if n == 1
                else scratch / f"items-{i:04d}.parquet",
                "user_path": user_path,
            }
        )
    return calls


def user_parts(
    users: Range, batch_starts: list[str], batch: int, path: Path, scratch: Path
) -> list[tuple[Range, Path]]:
    """The user range cut at whole FAISS batches (`batch_starts`: every `batch`-th placed
    user) into parts of about USERS_PER_PART users, each with the Parquet path its lists go
    to: `path` itself when there is one part, else files in `scratch`, outside the run
    folder. A part's candidates are built, ruled and written before the next one's, so the
    export's memory follows the part, not the log (at 30M events, 919k users in one part
    peaked at 19 GB)."""
    lo, hi = users
    inside = [u for u in batch_starts if (lo is None or u > lo) and (hi is None or u < hi)]
    inside = inside[1:] if lo is None else inside  # the first batch starts the range
    every = max(1, USERS_PER_PART // batch)
    cuts = inside[every - 1 :: every]
    bounds = list(itertools.pairwise([lo, *cuts, hi]))
    if len(bounds) == 1:
        return [(users, path)]
    scratch.mkdir(parents=True, exist_ok=True)
    return [(b, scratch / f"{path.stem}-part{i:04d}.parquet") for i, b in enumerate(bounds)]


def export_shard(
    stage_db: Path,
    model_dir: Path,
    cfg: ExportConfig,
    items: Range,
    users: Range,
    user_parts: list[tuple[Range, Path]],
    depth: int,
    max_seen: int,
    threads: int,
    item_path: Path,
    user_path: Path,
) -> dict:
    """Write the item lists of `items` and the user lists of `users`; returns the rows each
    business rule removed, per kind, and the worker that ran it. FAISS searches with
    `threads` threads (see `index.search_threads`)."""
    index.search_threads(threads)
    emb = Embedding.load(model_dir)
    channels = channels_of(emb, index.load(model_dir), cfg.scoring, model_dir / COUNT_LISTS)
    ordered = sorted(emb.item_ids.tolist())
    lo = 0 if items[0] is None else bisect_left(ordered, items[0])
    hi = len(ordered) if items[1] is None else bisect_left(ordered, items[1])
    rows = emb.rows(ordered[lo:hi]) if hi > lo else np.empty(0, dtype=np.int64)
    same = cfg.same_attribute is not None
    with sqlrun.connect(stage_db, read_only=True) as con:
        con.register("vocab", con.read_parquet(str(model_dir / VOCAB)))
        con.register("blocklist", pa.table({"item_id": pa.array(cfg.blocklist, pa.string())}))
        allow = pa.array(cfg.allowlist or [], pa.string())
        con.register("allowlist", pa.table({"item_id": allow}))
        load_attributes(con, cfg)
        sqlrun.run(con, "export/popular")
        con.register("item_neighbours", item_neighbours(channels, emb, rows, depth, cfg))
        bounds = {"lo": items[0], "hi": items[1]}
        sqlrun.run(con, "export/item_candidates")
        sqlrun.run(con, "export/item_cold", bounds)
        sqlrun.run(con, "export/fallback", {"depth": depth, "same_attribute": same})
        item_rules = filter_and_write(con, "item", cfg, item_path)
        bounds = {"lo": users[0], "hi": users[1]}
        seen = dict(sqlrun.run(con, "export/seen_counts", bounds).fetchall())
        fallback = {"depth": depth + max_seen, "same_attribute": same}
        progress = Progress("export-users", len(seen))
        user_rules = dict.fromkeys(RULES, 0)
        for part, path in user_parts:
            candidates = user_candidates(channels, con, seen, cfg, part, progress)
            con.register("user_candidates", candidates)
            sqlrun.run(con, "export/user_anchors", {"lo": part[0], "hi": part[1]})
            sqlrun.run(con, "export/user_candidates")
            sqlrun.run(con, "export/user_cold")
            sqlrun.run(con, "export/fallback", fallback)
            for rule, removed in filter_and_write(con, "user", cfg, path).items():
                user_rules[rule] += removed
            con.unregister("user_candidates")
            del candidates
        concat([path for _, path in user_parts], user_path)
    return {"item": item_rules, "user": user_rules, "worker": worker_id()}


# The same function as a Prefect task: what a Dask worker runs.
export_shard_task = task(name="export-shard", cache_policy=NONE)(export_shard)


def concat(parts: list[Path], out: Path) -> None:
    """Append the parts, in order, into one Parquet file (nothing to do for one part)."""
    if len(parts) == 1 and parts[0] == out:
        return
    schema = pq.read_schema(parts[0])
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for part in parts:
            writer.write_table(pq.read_table(part, schema=schema))
            part.unlink()
