"""Export: the serving FAISS index, `item_recs.parquet` and `user_recs.parquet`.

The index type follows the catalogue size (exact / IVF-Flat / IVF-PQ, see
recsys.model.index), its search beam is tuned to `export.recall_target` and its recall@K
against exact search is measured here, on a fixed sample, and written to `index.json`;
publish refuses an index below `export.min_recall`. The exported lists are read from that
very index, so `recsys similar` and `item_recs.parquet` agree.

Candidates (the embedding, count and popularity channels fused per list, cold-start
fallbacks) go to DuckDB, where the business rules flag what they remove
(`sql/export/flag.sql`) and the survivors are ranked; the same rules apply to item and user
lists. The count channel's lists are mined from every split's sessions (the refit model saw
them all) and published beside the model (`count_lists.parquet`) for `recsys serve`, and so
are the attributes the rules read (`item_attributes.parquet`, when a file is configured).

    shards.py   the lists built in shards (item- and user-id ranges), concatenated in order
    lists.py    what the stage and its shards share: neighbours, user vectors, the rules
"""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import ExportConfig, PipelineConfig
from recsys.layout import (
    COUNT_LISTS,
    EXPORT_SHARDS,
    ITEM_ATTRIBUTES,
    ITEM_RECS,
    USER_RECS,
    USER_RECS_EMPTY,
    RunPaths,
)
from recsys.model import index
from recsys.model.embedding import Embedding
from recsys.ops.scaleout import Mapper, inline, run_shards, shard_count
from recsys.stage import StageReport, report_artifact, retry_unless_deterministic, timed
from recsys.tasks.evaluate import baselines
from recsys.tasks.evaluate.baselines import ALL_SPLITS
from recsys.tasks.export import shards as export_shards
from recsys.tasks.export.lists import RULES, load_attributes


def build_index(paths: RunPaths, emb: Embedding, cfg: ExportConfig):
    """Build, recall-tune and save the serving index; returns (index, queries, info)."""
    queries, indexed = emb.spaces(cfg.scoring)
    # Recall is tuned for the item lists' queries (every item's list is exported).
    item_queries = emb.item_queries(cfg.scoring)
    queries = queries if item_queries is None else item_queries
    idx, info = index.build_tuned(queries, indexed, cfg.k, cfg)
    info["min_recall"] = cfg.min_recall
    index.save(idx, paths.out, info)
    return idx, queries, info


def write_count_lists(paths: RunPaths, cfg: PipelineConfig) -> int:
    """The count channel's list of every item, from every split, into the run folder;
    returns its rows."""
    depth = cfg.export.overfetch * cfg.export.k
    path = paths.out / COUNT_LISTS
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        sqlrun.run(con, "export/wanted_items")
        channel = cfg.export.count_channel
        baselines.item_lists(con, cfg.evaluate, depth, sources=[channel], splits=ALL_SPLITS)
        sqlrun.run(con, "export/count_lists_write", {"path": str(path), "source": channel})
    return pq.read_metadata(path).num_rows


def write_attributes(paths: RunPaths, cfg: ExportConfig) -> int:
    """The rules' attributes into the run folder (layout.ITEM_ATTRIBUTES) when an
    attributes file is configured; returns its rows (0: none written)."""
    if not cfg.item_attributes:
        return 0
    path = paths.out / ITEM_ATTRIBUTES
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        load_attributes(con, cfg)
        sqlrun.run(con, "export/attributes_write", {"path": str(path)})
    return pq.read_metadata(path).num_rows


def export(
    paths: RunPaths, cfg: PipelineConfig, shards: int = 1, mapper: Mapper | None = None
) -> StageReport:
    """Write index.faiss + index.json, item_recs.parquet and user_recs.parquet.

    The lists are built in `shards` shards (ranges of item and user ids, see shards.py)
    run by `mapper` (default: here, one after the other); each writes its own Parquet
    parts, concatenated in id order into the published files."""
    ex = cfg.export
    report = StageReport(name="export")
    with timed(report):
        emb = Embedding.load(paths.out)
        _, _, info = build_index(paths, emb, ex)
        count_rows = write_count_lists(paths, cfg)
        attribute_rows = write_attributes(paths, ex)
        calls = export_shards.plan(paths, emb, ex, shards)
        parts = (mapper or inline(export_shards.export_shard))(calls)
        for kind, name in (("item", ITEM_RECS), ("user", USER_RECS)):
            export_shards.concat([c[f"{kind}_path"] for c in calls], paths.out / name)
        shutil.rmtree(paths.work_dir / EXPORT_SHARDS, ignore_errors=True)
        lists = {
            "item_recs": str(paths.out / ITEM_RECS),
            "user_recs": str(paths.out / USER_RECS),
            "user_recs_empty": str(paths.out / USER_RECS_EMPTY),
        }
        item_rules = {r: sum(p["item"][r] for p in parts) for r in RULES}
        user_rules = {r: sum(p["user"][r] for p in parts) for r in RULES}
        with sqlrun.connect(paths.stage_db, read_only=True) as con:
            empty = {"user_recs": lists["user_recs"], "path": lists["user_recs_empty"]}
            sqlrun.run(con, "export/user_empty_write", empty)
            counts = sqlrun.fetch_one(con, "export/counts", params=lists)
        report.rows_in = len(emb)
        report.rows_out = counts["item_recs_rows"] + counts["user_recs_rows"]
        report.details = {
            "index": info["kind"],
            "index recall@k": info["recall"],
            "index build seconds": info["build_seconds"],
            "index bytes per vector": info["bytes_per_vector"],
            "items": len(emb),
            **counts,
            "count channel": ex.count_channel,
            "count list rows": count_rows,
            "attribute rows": attribute_rows,
            "item weights": ex.item_weights.model_dump(),
            "session weights": ex.session_weights.model_dump(),
            **{f"item rule {k} removed": v for k, v in item_rules.items()},
            **{f"user rule {k} removed": v for k, v in user_rules.items()},
        }
        report.details["k"] = ex.k
        report.details["shards"] = len(calls)
        report.details["shard workers"] = ", ".join(sorted({p["worker"] for p in parts}))
    return report


def _sample_markdown(paths: RunPaths) -> str:
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
def export_task(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    def mapper(calls: list[dict]) -> list[dict]:
        return run_shards(export_shards.export_shard_task, calls, cfg.ops)

    report = export(paths, cfg, shard_count(cfg.ops), mapper)
    report_artifact(report, _sample_markdown(paths))
    return report
