"""Incremental extract: re-clean and re-sessionize only the users whose events changed.

The warehouse keeps, next to every event, the per-row result of the last run's `extract/rows`
(its cleaning-rule tag, session and position: `wh_events.result`), that run's item counts,
the settings it ran with, and the users whose rows changed since (`wh_dirty`, marked by
every ingest and backfill). Under the same settings, a run recomputes only:

* the marked users, users with a row that has no stored result, and users with a row
  between the previous run's future bound and this run's (the clock moved, so that row's
  usable/unusable verdict flipped);
* the users of every item whose rare-item verdict flipped as a result (a second pass;
  their own counts do not change, so it settles there);
* rows without a user (unusable, never stored).

Every other cleaning rule (unusable rows, event types, duplicates, bots, sparse users) and
the gap sessions look at one user's rows only, so a user whose rows did not change and
whose items kept their verdict keeps exactly the tags and sessions a full run would give
them; the rare-item rule counts the kept users' stored events through `prior_item_counts`.
The split, chunking, session numbering, vocabulary and corpus stay global and are rebuilt
from `typed_events` as before, so the stage equals a full rebuild (tests compare them).

Settings changed (any value `extract/rows.sql` binds except the future bound, or that file's
text) or no stored results yet: every row is recomputed, and the results replaced.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import duckdb
from pydantic import BaseModel

from recsys import sqlrun
from recsys.layout import INGEST_COUNTS, INGEST_RESULTS
from recsys.stage import logger
from recsys.tasks.extract.ingest import WarehouseExport
from recsys.warehouse import open_warehouse

# Bound by extract/rows.sql but not part of a stored row's result: the future bound is
# handled row by row (extract/recompute_users), the unit and format only type raw input.
_NOT_SETTINGS = {"max_ts", "timestamp_unit", "timestamp_format"}
ROWS = "extract/rows"  # the rules whose results are stored


class Recompute(BaseModel):
    """What an incremental run recomputed (in the stage details under `incremental`)."""

    mode: str = "full"
    reason: str = ""
    users: int = 0
    rows: int = 0
    rare_flip_users: int = 0
    stored_rows: int = 0
    stored: bool = False  # were this run's results stored in the warehouse


def settings_text(params: dict[str, object]) -> str:
    """The values stored results depend on, as canonical JSON (with the rules' own text)."""
    text = sqlrun.sql_text(ROWS)
    names = sorted(set(re.findall(r"\$(\w+)", text)) - _NOT_SETTINGS)
    values = {name: params[name] for name in names}
    values[f"{ROWS}.sql"] = hashlib.sha256(text.encode()).hexdigest()
    return json.dumps(values, sort_keys=True, default=str)


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {k: int(v) for k, v in sqlrun.fetch_one(con, "extract/recompute_counts").items()}


def build_rows(
    con: duckdb.DuckDBPyConnection, export: WarehouseExport, params: dict[str, object]
) -> Recompute:
    """Create `typed_events` for every warehouse row, recomputing as little as is exact.

    Parameters
    ----------
    con
        The stage's connection; `typed_events` is created on it.
    export
        The warehouse snapshot written by `ingest` (events with stored results, the stored
        per-item counts, the marked users, the stored settings and future bound).
    params
        The extract SQL's bound values (`params.sql_params`, with `use_session_ref`).

    Returns
    -------
    What was recomputed: mode `partial` or `full` (with the reason), users and rows.
    """
    sqlrun.run(con, "extract/warehouse_rows_path", {"path": str(export.events)})
    sqlrun.run(con, "extract/warehouse_rows")
    settings = settings_text(params)
    report = Recompute()
    if export.settings is None:
        report.reason = "no stored results yet"
    elif export.settings != settings:
        report.reason = "extract settings changed since the results were stored"
    else:
        report.mode = "partial"
    if report.mode == "full":
        sqlrun.run(con, "extract/recompute_all")
        sqlrun.run(con, "extract/prior_none")
        sqlrun.run(con, "extract/typed_stored")
        sqlrun.run(con, ROWS, params)
        report.rows = _counts(con)["typed_rows"]
        report.users = int(sqlrun.fetch_one(con, "extract/typed_users")["typed_users"])
        return report
    low, high = sorted([export.max_ts, params["max_ts"]])
    marks = {"marks": str(export.marks), "band_low": low, "band_high": high}
    sqlrun.run(con, "extract/recompute_users", marks)
    sqlrun.run(con, "extract/prior_counts")
    sqlrun.run(con, "extract/typed_affected")
    sqlrun.run(con, ROWS, params)
    if int(params["min_item_count"]) > 1:
        before = _counts(con)["recompute_users"]
        flips = {"old_counts": str(export.item_counts), "min_item_count": params["min_item_count"]}
        sqlrun.run(con, "extract/rare_flips", flips)
        report.rare_flip_users = _counts(con)["recompute_users"] - before
        if report.rare_flip_users:
            sqlrun.run(con, "extract/prior_counts")
            sqlrun.run(con, ROWS, params)
    counts = _counts(con)
    report.users, report.rows = counts["recompute_users"], counts["typed_rows"]
    sqlrun.run(con, "extract/rows_stored")
    report.stored_rows = _counts(con)["typed_rows"] - report.rows
    return report


def store_results(
    con: duckdb.DuckDBPyConnection,
    export: WarehouseExport,
    recompute: Recompute,
    params: dict[str, object],
    data_dir: Path,
    scratch: Path,
    memory_limit: str | None,
) -> bool:
    """Write the recomputed rows' results to the warehouse and clear the marks handled.

    One transaction: the stored results, item counts, marks and settings change together or
    not at all. Results are written by the row ids of the export, after checking that each
    id still names the same (file, row), and that no other run stored results since this
    run's export; if not (the warehouse was rewritten, or another run finished first),
    nothing is stored and the marks stay, so the next run recomputes. Marks set by an ingest
    that ran meanwhile are not cleared; rows it added have no result, so they are recomputed
    too. Returns whether the results were stored.
    """
    results, counts = scratch / INGEST_RESULTS, scratch / INGEST_COUNTS
    written = {"export": str(export.events), "all_rows": recompute.mode == "full"}
    sqlrun.run(con, "extract/results_write", {**written, "out": str(results)})
    sqlrun.run(con, "extract/item_counts_write", {"out": str(counts)})
    max_ts: datetime = params["max_ts"]  # type: ignore[assignment]
    with open_warehouse(data_dir, memory_limit) as wh:
        wh.begin()
        # Another run that stored since this run's export cleared the marks this run read
        # and may hold newer results for its users (rows it ingested after this export):
        # storing over them would leave stale results that no mark points to any more.
        state = sqlrun.fetch_one(wh, "warehouse/results_state_read") or {}
        if state.get("updated_at") != export.stored_at:
            wh.rollback()
            logger().warning(
                "extract: another run stored its results while this run computed: "
                "results not stored, the next run recomputes what is still marked"
            )
            return False
        check = sqlrun.fetch_one(wh, "warehouse/results_check", params={"results": str(results)})
        if check["matching"] != check["results"]:
            wh.rollback()
            logger().warning(
                "extract: the warehouse changed while this run computed (%d of %d rows "
                "still match): results not stored, the next run recomputes them",
                check["matching"],
                check["results"],
            )
            return False
        sqlrun.run(wh, "warehouse/results_update", {"results": str(results)})
        sqlrun.run(wh, "warehouse/item_counts_replace", {"counts": str(counts)})
        sqlrun.run(wh, "warehouse/dirty_clear", {"marks": str(export.marks)})
        state = {"settings": settings_text(params), "max_ts": max_ts}
        sqlrun.run(wh, "warehouse/results_state_set", state)
        wh.commit()
    return True
