"""Reading an events input into `source_rows` and finding its columns (extract and warehouse)."""

from __future__ import annotations

import duckdb

from recsys import sqlrun
from recsys.config import ExtractConfig
from recsys.errors import DataQualityError
from recsys.inputs import EventsInput

REQUIRED = ("user_id", "item_id", "timestamp")
OPTIONAL = ("event_type", "session_id")


def read_source(con: duckdb.DuckDBPyConnection, events: EventsInput, delimiter: str | None) -> None:
    try:
        params: dict[str, object] = {"path": events.files}
        if events.format == "csv":
            # read_csv takes one delimiter for all files: the configured one, else the
            # first file's sniffed one (a NULL delimiter would not sniff).
            params["delimiter"] = (
                delimiter
                or sqlrun.fetch_one(
                    con, "extract_sniff_csv", params={"first_file": events.files[0]}
                )["delimiter"]
            )
        sqlrun.run(con, f"extract_read_{events.format}", params)
    except duckdb.Error as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        first = lines[0]
        # DuckDB's CSV errors put the reason (e.g. "not utf-8 encoded") after the echoed row.
        reason = [
            line
            for line in lines[1:]
            if not line.startswith(("Original Line", "Possible Solution")) and "=" not in line
        ]
        if "CSV Error" in first and reason:
            first = f"{first}: {reason[0]}"
        raise DataQualityError(
            f"{events.source}: cannot be read as {events.format}: {first}"
        ) from exc


def check_layout(columns: list[str], source: str) -> None:
    """Name the two layouts where 'missing column' would mislead: no header at all (DuckDB
    invents `column0`), and a header that did not split because the CSV sniffer gave up."""
    if columns == ["column0"]:
        raise DataQualityError(f"{source}: the file is empty (no header row, no data)")
    if len(columns) == 1:
        raise DataQualityError(
            f"{source}: rows did not split into columns (the header was read as one column "
            f"'{columns[0]}'): a row is truncated or malformed, or the delimiter is unusual"
        )


def column_slots(
    con: duckdb.DuckDBPyConnection, cfg: ExtractConfig, source: str
) -> dict[str, str | None]:
    present = [row[0] for row in con.execute("describe source_rows").fetchall()]
    check_layout([c for c in present if c != "input_order"], source)
    mapping = cfg.columns.model_dump()
    slots: dict[str, str | None] = {}
    for name in REQUIRED:
        column = mapping[name]
        if column not in present:
            shown = ", ".join(c for c in present if c != "input_order")
            raise DataQualityError(
                f"{source}: missing required column '{column}' (for {name}; columns found: {shown})"
            )
        slots[name] = column
    for name in OPTIONAL:
        column = mapping[name]
        slots[name] = column if column in present else None
    return slots
