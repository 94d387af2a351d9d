"""Incremental ingestion: input files into the events warehouse, and date-range backfills.

The warehouse (recsys/warehouse.py, tables in sql/warehouse/schema.sql) holds:

    wh_events     typed events (extract/typed's columns) keyed by (file_path, file_row)
    wh_files      every ingested file with its content fingerprint
    wh_watermark  the newest event time ingested, with file and row counts
    wh_item_counts, wh_dirty, wh_results_state
                  with wh_events.result: the extract stage's stored per-row results, its
                  item counts, the users whose rows changed since, and the settings the
                  results hold for (incremental.py)

An input file is the unit of ingestion: a file whose (path, fingerprint) is registered is
skipped, a new path is read whole, and a registered path whose content changed (a rewritten
partition, an appended log) is read whole again and replaces its earlier rows. Files are
keyed by absolute path, so the same file named relatively and absolutely is one file.
Reading and typing happen on the caller's DuckDB connection; the warehouse is opened only
for the short write transaction (DuckDB allows one writing process per file), and rows
travel between the two as Parquet files in a scratch folder, so no value is ever pasted
into SQL text.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
from pydantic import BaseModel

from recsys import sqlrun
from recsys.config import ExtractConfig
from recsys.errors import DataQualityError
from recsys.inputs import EventsInput, FileState, file_state, is_url, shown
from recsys.layout import INGEST_EVENTS, INGEST_ITEM_COUNTS, INGEST_MARKS
from recsys.tasks.extract.columns import column_slots
from recsys.tasks.extract.read import read_source, scan_errors
from recsys.warehouse import open_warehouse


class IngestReport(BaseModel):
    """What one ingest or backfill did to the warehouse (goes into the stage details)."""

    files_seen: int = 0
    files_new: int = 0
    files_changed: int = 0
    files_appended: int = 0
    files_skipped: int = 0
    rows_ingested: int = 0
    late_rows: int = 0
    warehouse_rows: int = 0
    watermark: str | None = None
    session_ref: bool = False


class WarehouseExport(BaseModel):
    """A snapshot of the warehouse for the stage, taken right after an ingest commits."""

    events: Path  # every event with its row id, input order and stored result
    item_counts: Path  # the last run's per-item counts before the rare-item rule
    marks: Path  # the users marked as changed, with their marks
    settings: str | None = None  # what the stored results were computed with
    max_ts: datetime | None = None  # the future bound they were computed with
    stored_at: datetime | None = None  # when they were stored (which run's results they are)


def _type_file(
    con: duckdb.DuckDBPyConnection,
    events: EventsInput,
    file: str,
    cfg: ExtractConfig,
    params: dict[str, object],
    out: Path,
    window: tuple[datetime, datetime] | None,
    from_row: int | None = None,
) -> None:
    """Read and type one file (`file`: its warehouse key) on `con` and write its rows (in
    the window, or from row `from_row` on, if given) to `out`."""
    name = next(f for f in events.files if _key(f) == file)
    one = events.model_copy(update={"files": [name], "source": shown(name)})
    read_source(con, one, cfg.csv_delimiter, columns=cfg.columns)
    slots = column_slots(con, cfg, shown(name))
    sqlrun.run(con, "extract/typed", params, idents=slots)
    low, high = window or (None, None)
    where = {"file_path": file, "from_ts": low, "to_ts": high, "from_row": from_row}
    with scan_errors(con, one, cfg.csv_delimiter, lazy=False):
        sqlrun.run(con, "extract/ingest_write", {**params, **where, "out": str(out)})


def _key(file: str) -> str:
    """How the warehouse names an input file: its absolute path, so the same files given
    relatively and absolutely (or from another working directory) are one file; a URL
    without its secrets (query string, user:password), which are never stored."""
    return shown(file) if is_url(file) else os.path.abspath(file)


class _Registered(BaseModel):
    fingerprint: str
    bytes: int | None = None  # None: a URL (size unknown)
    last_row: int | None = None  # None: the file held no rows


def _appended(file: str, fmt: str, old: _Registered, now: FileState) -> bool:
    """Has the file only grown since it was registered (an append-only CSV/JSON lines log)?
    Parquet cannot be appended to; a compressed file is re-read whole to be safe."""
    if fmt not in ("csv", "json") or file.lower().endswith(".gz") or old.last_row is None:
        return False
    return now.prefix is not None and now.size > old.bytes and now.prefix == old.fingerprint


def ingest(
    con: duckdb.DuckDBPyConnection,
    events: EventsInput,
    data_dir: Path,
    scratch: Path,
    cfg: ExtractConfig,
    params: dict[str, object],
    window: tuple[datetime, datetime] | None = None,
    *,
    export: bool = True,
    allow_empty: bool = False,
) -> tuple[IngestReport, WarehouseExport | None]:
    """Bring the warehouse up to date with `events`; export all its events for the stage.

    Parameters
    ----------
    con
        Connection used to read and type the input files (the stage's, or a scratch one).
    events
        The resolved input; each of its files is ingested unless already registered.
    data_dir, scratch
        Where the warehouse lives, and a folder for the Parquet hand-over files.
    cfg, params
        The extract config and the bound values of the extract SQL (typing rules).
    window
        Backfill range [start, end): warehouse rows in it are deleted and re-read from every
        input file; files not registered yet are still read whole.
    export
        Write the snapshot the stage reads (a backfill, which only writes, does not).
    allow_empty
        Let a backfill whose input holds no rows in its range empty that range of the
        warehouse (refused otherwise: DataQualityError, the warehouse unchanged).

    Returns
    -------
    The ingest counts and the warehouse snapshot (Parquet files in `scratch`; None
    without `export`).
    """
    scratch.mkdir(parents=True, exist_ok=True)
    keys = {_key(f): f for f in events.files}
    with open_warehouse(data_dir, cfg.memory_limit) as wh:
        rows = sqlrun.run(wh, "warehouse/files_registered").fetchall()
    registered = {r[0]: _Registered(fingerprint=r[1], bytes=r[2], last_row=r[3]) for r in rows}
    # one read per file: its fingerprint, and that of the part registered before (appends)
    states = {
        key: file_state(f, registered[key].bytes if key in registered else None)
        for key, f in keys.items()
    }
    report = IngestReport(files_seen=len(states))
    whole, ranged, tails = [], [], {}
    for file, state in states.items():
        old = registered.get(file)
        if old is None:
            report.files_new += 1
            whole.append(file)
        elif old.fingerprint != state.fingerprint:
            if window is None and _appended(file, events.format, old, state):
                report.files_appended += 1
                tails[file] = old.last_row
            else:
                report.files_changed += 1
                whole.append(file)
        elif window is not None:
            ranged.append(file)
        else:
            report.files_skipped += 1
    written = []
    for n, file in enumerate(whole + ranged + list(tails)):
        out = scratch / f"ingest-{n:05d}.parquet"
        file_window = window if file in ranged else None
        _type_file(con, events, file, cfg, params, out, file_window, tails.get(file))
        written.append(str(out))
    con.execute("drop table if exists source_rows")
    snapshot = WarehouseExport(
        events=scratch / INGEST_EVENTS,
        item_counts=scratch / INGEST_ITEM_COUNTS,
        marks=scratch / INGEST_MARKS,
    )
    with open_warehouse(data_dir, cfg.memory_limit) as wh:
        wh.begin()  # all or nothing: a failed ingest leaves the warehouse as it was
        if written and window is not None and not allow_empty:
            _refuse_empty_replacement(wh, written, window, events.source)
        if written:
            _write(wh, report, written, whole, ranged, tails, states, window)
        wh.commit()
        mark = sqlrun.fetch_one(wh, "warehouse/watermark_read")
        if export:
            _export(wh, snapshot)
    if mark:
        report.watermark = str(mark["max_ts"]) if mark["max_ts"] is not None else None
        report.warehouse_rows = int(mark["rows"])
        report.session_ref = bool(mark["has_session_ref"])
    for name in written:
        Path(name).unlink(missing_ok=True)
    return report, snapshot if export else None


def _refuse_empty_replacement(
    wh: duckdb.DuckDBPyConnection,
    written: list[str],
    window: tuple[datetime, datetime],
    source: str,
) -> None:
    """DataQualityError if a backfill would replace the range's stored events with none."""
    low, high = window
    counts = sqlrun.fetch_one(
        wh, "warehouse/backfill_counts", params={"files": written, "from_ts": low, "to_ts": high}
    )
    if counts["incoming_rows"] == 0 and counts["stored_rows"] > 0:
        raise DataQualityError(
            f"backfill: {source} holds no events in [{low}, {high}) but the warehouse holds "
            f"{counts['stored_rows']:,}; nothing replaced (--allow-empty empties the range)"
        )


def _write(
    wh: duckdb.DuckDBPyConnection,
    report: IngestReport,
    written: list[str],
    whole: list[str],
    ranged: list[str],
    tails: dict[str, int],
    states: dict[str, FileState],
    window: tuple[datetime, datetime] | None,
) -> None:
    """The ingest's writes, inside the caller's transaction: mark the users whose rows
    change, replace the rows of the files read, register the files, move the watermark."""
    late = sqlrun.fetch_one(wh, "warehouse/late_rows", params={"files": written})
    report.late_rows, report.rows_ingested = late["late_rows"], late["new_rows"]
    low, high = window or (None, None)
    cut = {"tail_paths": list(tails), "tail_rows": list(tails.values())}
    marks = {"paths": whole, "from_ts": low, "to_ts": high, "files": written, **cut}
    batch = uuid.uuid4().hex  # this ingest's mark on the users it changes
    sqlrun.run(wh, "warehouse/dirty_mark", {**marks, "batch": batch})
    if window is not None:
        sqlrun.run(wh, "warehouse/events_delete_range", {"from_ts": low, "to_ts": high})
    sqlrun.run(wh, "warehouse/events_delete_files", {"paths": whole})
    if tails:
        sqlrun.run(wh, "warehouse/events_delete_tails", cut)
    sqlrun.run(wh, "warehouse/events_insert", {"files": written})
    paths = whole + ranged + list(tails)
    sqlrun.run(wh, "warehouse/files_delete", {"paths": paths})
    sqlrun.run(
        wh,
        "warehouse/files_insert",
        {
            "paths": paths,
            "fingerprints": [states[p].fingerprint for p in paths],
            "sizes": [states[p].size for p in paths],
        },
    )
    if window is not None:
        sqlrun.run(wh, "warehouse/files_prune")
    sqlrun.run(wh, "warehouse/watermark_set")


def _export(wh: duckdb.DuckDBPyConnection, snapshot: WarehouseExport) -> None:
    """Write the snapshot's files and read the stored results' state into it."""
    # The committed ingest goes to the database file before the export reads row ids: a
    # later checkpoint then has no deleted rows to compact, so the ids stay what it saw.
    wh.execute("checkpoint")
    sqlrun.run(wh, "warehouse/events_export", {"out": str(snapshot.events)})
    sqlrun.run(wh, "warehouse/item_counts_export", {"out": str(snapshot.item_counts)})
    sqlrun.run(wh, "warehouse/dirty_export", {"out": str(snapshot.marks)})
    state = sqlrun.fetch_one(wh, "warehouse/results_state_read")
    if state:
        snapshot.settings, snapshot.max_ts = state["settings"], state["max_ts"]
        snapshot.stored_at = state["updated_at"]
