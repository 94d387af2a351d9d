"""DATA_DIR/warehouse.duckdb: its schema, its version, its one migration path, and opening it.

The warehouse holds the events of incremental runs (written by the extract stage,
tasks/extract/ingest.py and incremental.py) and every run's metrics (`run_metrics`, written
by the evaluate stage). Its tables are defined once, in `sql/warehouse/schema.sql`, and
`wh_schema` records their version. Every writer opens it here, so a warehouse of another
version is brought up to `SCHEMA_VERSION` (or refused) before anything reads or writes it.
DuckDB allows one writing process per file: a writer opens it only for a short transaction
and waits out another process's.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from recsys import sqlrun
from recsys.errors import UsageError, WarehouseBusy
from recsys.layout import warehouse_path
from recsys.stage import logger

# 1: the first versioned schema (sql/warehouse/schema.sql).
SCHEMA_VERSION = 1
# Tables an unversioned warehouse (written before SCHEMA_VERSION 1) may hold besides
# run_metrics, whose columns have not changed since.
_UNVERSIONED_EVENT_TABLES = {
    "wh_events",
    "wh_files",
    "wh_watermark",
    "wh_item_counts",
    "wh_dirty",
    "wh_results_state",
}


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """The one migration path of the warehouse: bring it to `SCHEMA_VERSION` or refuse.

    A new file gets the schema. An unversioned one (written before version 1) keeps its
    `run_metrics` and has its event tables rebuilt from scratch: the next incremental run
    reads every input file again, which gives the events a full read would. A newer
    version is refused: this code cannot know what it changed."""
    tables = {row[0] for row in sqlrun.run(con, "warehouse/tables").fetchall()}
    version = 0
    if "wh_schema" in tables:
        version = sqlrun.fetch_one(con, "warehouse/version_read").get("version") or 0
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise UsageError(
            f"{path}: schema version {version} is newer than this recsys writes "
            f"({SCHEMA_VERSION}); upgrade recsys"
        )
    con.begin()
    if tables & _UNVERSIONED_EVENT_TABLES:
        logger().warning(
            "%s has no schema version (written before version %d): its event tables are "
            "rebuilt, the next incremental run reads every input file again",
            path,
            SCHEMA_VERSION,
        )
        sqlrun.run(con, "warehouse/drop_unversioned")
    sqlrun.run(con, "warehouse/schema")
    sqlrun.run(con, "warehouse/version_set", {"version": SCHEMA_VERSION})
    con.commit()


def open_warehouse(data_dir: Path, memory_limit: str | None = None, attempts: int = 6):
    """Open the warehouse for writing (at `SCHEMA_VERSION`), waiting out another process's
    short write; WarehouseBusy (exit 1, retried by the task) when it lasts too long."""
    path = warehouse_path(data_dir)
    for attempt in range(attempts):
        try:
            con = sqlrun.connect(path, memory_limit=memory_limit)
            try:
                migrate(con, path)
            except BaseException:
                con.close()
                raise
            return con
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower():
                raise
            if attempt == attempts - 1:
                waited = sum(0.5 * 2**k for k in range(attempts - 1))
                first = str(exc).strip().splitlines()[0]
                raise WarehouseBusy(
                    f"{path}: held by another process for over {waited:g} s ({first})"
                ) from exc
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")
