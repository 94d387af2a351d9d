"""The input's columns: which configured column fills each slot, refused by name when it is
missing or holds values that are not one id or time per row (stage, ingest and the
command line's check before Prefect starts)."""

from __future__ import annotations

import contextlib

import duckdb

from recsys import sqlrun
from recsys.config import ExtractConfig
from recsys.errors import DataQualityError
from recsys.inputs import EventsInput, is_url
from recsys.tasks.extract.read import read_source

REQUIRED = ("user_id", "item_id", "timestamp")
OPTIONAL = ("event_type", "session_id")


def check_layout(columns: list[str], source: str) -> None:
    """Name the two layouts where 'missing column' would mislead: no header at all (DuckDB
    invents `column0`), and a header that did not split because the CSV sniffer gave up."""
    if columns == ["column0"]:
        raise DataQualityError(f"{source}: the file is empty (no header row, no data)")
    if columns == ["json"]:  # what DuckDB's JSON reader names an input without objects
        raise DataQualityError(f"{source}: the file holds no JSON objects (empty?)")
    if len(columns) == 1:
        raise DataQualityError(
            f"{source}: rows did not split into columns (the header was read as one column "
            f"of {len(columns[0])} characters): a row is truncated or malformed, or the "
            "delimiter is unusual (set extract.csv_delimiter)"
        )


# Column types that are not one value per row: their text ('[g0-i0]', '{a: 1}') is no id.
_NESTED = ("[", "STRUCT(", "MAP(", "UNION(")
_IDS = ("user_id", "item_id", "session_id")


def check_columns(events: EventsInput, cfg: ExtractConfig) -> None:
    """Refuse, before anything else starts, a local input whose first file cannot be read
    or lacks a configured column: its header alone is read (DuckDB sniffs a sample), so a
    wrong file or column mapping fails in a second, not after the Prefect API came up. The
    extract stage checks every file again."""
    if not events.files or any(is_url(f) for f in events.files):
        return  # a URL is read once, by the stage
    first = events.model_copy(update={"files": events.files[:1]})
    with contextlib.closing(sqlrun.connect()) as con:
        read_source(
            con,
            first,
            cfg.csv_delimiter,
            columns=cfg.columns,
            schema_only=True,
        )
        column_slots(con, cfg, events.source, relation="source_view")


def column_slots(
    con: duckdb.DuckDBPyConnection, cfg: ExtractConfig, source: str, relation: str = "source_rows"
) -> dict[str, str | None]:
    types = sqlrun.column_types(con, relation)
    present = list(types)
    check_layout([c for c in present if c != "input_order"], source)
    mapping = cfg.columns.model_dump()
    slots: dict[str, str | None] = {}
    for name in REQUIRED:
        column = mapping[name]
        if column not in present:
            # The header is file content: its names are counted, not shown (a file named
            # by mistake, e.g. /etc/shadow, must not be echoed).
            found = len([c for c in present if c != "input_order"])
            # A name equal but for case shows only letters the user typed.
            cased = [c for c in present if c.lower() == column.lower()]
            if len(cased) == 1:
                raise DataQualityError(
                    f"{source}: missing required column '{column}' (for {name}; the header "
                    f"has '{cased[0]}', which differs in case: map it with "
                    f"--set extract.columns.{name}={cased[0]})"
                )
            raise DataQualityError(
                f"{source}: missing required column '{column}' (for {name}; the header's "
                f"{found} columns do not include it: map it with "
                f"--set extract.columns.{name}=NAME)"
            )
        slots[name] = column
    for name in OPTIONAL:
        column = mapping[name]
        slots[name] = column if column in present else None
    for name, column in slots.items():
        if column is not None and any(mark in types[column] for mark in _NESTED):
            raise DataQualityError(
                f"{source}: column '{column}' (for {name}) holds {types[column]} values, "
                "not one id, time or text per row"
            )
        if column is not None and name in _IDS and types[column] == "BOOLEAN":
            # As text every id would be 'true' or 'false': all users (or items) merged in two.
            raise DataQualityError(
                f"{source}: column '{column}' (for {name}) holds BOOLEAN values, not ids "
                "(ids are strings or integers)"
            )
    return slots
