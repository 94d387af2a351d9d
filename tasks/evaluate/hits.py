"""Scoring given lists on a stage's held-out cases, for both tasks at once: what a tuning
trial and the baselines' small grids need (many candidate configurations, one SQL pass).

The cases, the removal of the session's items and the hit ranks are the evaluate stage's own
SQL (evaluate/pairs, session_cases, hits), so a search scores exactly as the gate will.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from recsys import sqlrun
from recsys.tasks.evaluate.sessions import HIT_TABLES as SESSION_HITS
from recsys.tasks.evaluate.sessions import LIST_TABLES as SESSION_LISTS
from recsys.tasks.evaluate.shards import ALL_SESSIONS, HIT_TABLES, LIST_TABLES, rates


def open_cases(
    stage_db: Path, session_cases: int, sample: tuple[int, int] | None = None
) -> duckdb.DuckDBPyConnection:
    """A read-only connection holding both tasks' cases (`test_pairs`, `session_cases`,
    `session_prefix`) of the held-out sessions whose hash is in `sample` (millionths [lo,
    hi), see evaluate/pairs; None: all) and empty list tables; the caller closes it."""
    lo, hi = sample or (0, ALL_SESSIONS)
    con = sqlrun.connect(stage_db, read_only=True)
    sqlrun.run(con, "evaluate/pairs", {"lo": None, "hi": None, "sample_lo": lo, "sample_ppm": hi})
    sqlrun.run(con, "evaluate/session_cases", {"max_cases": session_cases})
    sqlrun.run(con, "evaluate/session_prefix")
    sqlrun.run(con, "evaluate/candidates")
    sqlrun.run(con, "evaluate/session_lists")
    return con


def add_lists(con: duckdb.DuckDBPyConnection, source: str, lists: pa.Table, session: bool) -> None:
    """Add one source's (query_id, rank, item_id, score) lists to a task's list table."""
    con.register("model_neighbours", lists)
    tables = SESSION_LISTS if session else LIST_TABLES
    sqlrun.run(con, "evaluate/model_candidates", {"source": source}, tables)
    con.unregister("model_neighbours")


def clear_lists(con: duckdb.DuckDBPyConnection) -> None:
    """Empty both list tables (between trials on one connection)."""
    sqlrun.run(con, "evaluate/candidates")
    sqlrun.run(con, "evaluate/session_lists")


def task_metrics(
    con: duckdb.DuckDBPyConnection, ks: list[int], exclude_seen: bool, session: bool
) -> dict[str, dict[str, float]]:
    """HR/MRR/NDCG@K of every source in one task's list table."""
    hits_tables, list_tables = (
        (SESSION_HITS, SESSION_LISTS) if session else (HIT_TABLES, LIST_TABLES)
    )
    cases_table = hits_tables["cases"]
    cases = con.execute(f"select count(*) from {cases_table}").fetchone()[0]
    if cases == 0:
        return {}
    sqlrun.run(con, "evaluate/hits", {"exclude_seen": exclude_seen}, hits_tables)
    hits = sqlrun.run(con, "evaluate/hit_counts", idents=hits_tables).fetchall()
    sources = [r[0] for r in sqlrun.run(con, "evaluate/sources", idents=list_tables).fetchall()]
    return rates(hits, sources, cases, ks)
