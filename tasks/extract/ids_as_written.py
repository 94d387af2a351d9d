"""Ids kept exactly as written, whatever the input format stores them as.

- JSON lines: every column is read as JSON and turned into its text (sql/extract/
  read_json_text), so an id column's type is decided once for all its values (DuckDB would
  type it by its values: ids mixing numbers and strings came out quoted, '"g7"'). An id
  written as a number with a fraction or an exponent is refused: DuckDB parses it into a
  double and its text is lost (1e3 and 1E3 both '1000.0'). An array or object where one
  value belongs is refused too.
- Parquet: an id column stored as integers in one file and floats in another is refused
  (read together, DuckDB widens it to DOUBLE: '7' -> '7.0'); a BINARY column is decoded as
  UTF-8 text (sql/extract/typed's `id_text`), bytes that are not UTF-8 are refused.
"""

from __future__ import annotations

import duckdb

from recsys import redact, sqlrun
from recsys.errors import DataQualityError
from recsys.inputs import EventsInput

# The errors sql/extract/read_json_text and sql/extract/typed raise.
NESTED_JSON = "recsys: nested JSON value"
FRACTIONAL_ID = "recsys: fractional JSON number in an id column"
NOT_UTF8_ID = "recsys: id bytes that are not UTF-8"


def read_json_as_text(
    con: duckdb.DuckDBPyConnection, params: dict, named: tuple[str, ...], ids: tuple[str, ...]
) -> None:
    """Replace `source_view` (a JSON input read by DuckDB's types) by its text view: the
    columns the run reads (`named`) checked for nested values, the `ids` for fractions."""
    present = list(sqlrun.column_types(con, "source_view"))
    params["columns"] = {name: "JSON" for name in present}
    sqlrun.run(con, "extract/source", params)
    sqlrun.run(con, "extract/read_json_raw")
    read = [name for name in dict.fromkeys(named) if name in present]
    slots = {f"c{i}": read[i - 1] if i <= len(read) else None for i in range(1, 6)}
    read_ids = [name for name in dict.fromkeys(ids) if name in present]
    slots |= {f"d{i}": read_ids[i - 1] if i <= len(read_ids) else None for i in (1, 2, 3)}
    sqlrun.run(con, "extract/read_json_text", idents=slots)


def json_refusal(
    con: duckdb.DuckDBPyConnection,
    events: EventsInput,
    exc: duckdb.Error,
    named: tuple[str, ...],
    ids: tuple[str, ...],
) -> DataQualityError | None:
    """The one-line error for a refusal of read_json_text, naming the column; None for any
    other error."""
    if NESTED_JSON in str(exc):
        return _count_and_name(
            con,
            "extract/json_nested",
            named,
            lambda name, rows: (
                f"{events.source}: column '{name}' holds a JSON array or "
                f"object in {rows:,} rows, not one id, time or text per row"
            ),
        ) or DataQualityError(f"{events.source}: a column the run reads holds JSON arrays")
    if FRACTIONAL_ID in str(exc):
        return _count_and_name(
            con,
            "extract/json_fractional",
            ids,
            lambda name, rows: (
                f"{events.source}: column '{name}' holds {rows:,} ids written "
                "as JSON numbers with a fraction or an exponent, which cannot be kept as written "
                "(1e3 and 1E3 would be one id); write ids as JSON strings or integers"
            ),
        ) or DataQualityError(f"{events.source}: an id column holds fractional JSON numbers")
    return None


def _count_and_name(con, query: str, names: tuple[str, ...], message) -> DataQualityError | None:
    present = list(sqlrun.column_types(con, "source_json"))
    for name in [n for n in dict.fromkeys(names) if n in present]:
        (rows,) = sqlrun.run(con, query, idents={"column": name}).fetchone()
        if rows:
            return DataQualityError(message(name, rows))
    return None


def check_parquet_id_types(
    con: duckdb.DuckDBPyConnection, events: EventsInput, ids: tuple[str, ...]
) -> None:
    """Refuse Parquet files that store an id column as integers in one file and as floats
    in another (pandas writes a column of ints with one missing value as floats)."""
    mixed = sqlrun.run(con, "extract/parquet_id_types", {"ids": list(ids)}).fetchall()
    if mixed:
        name, integers, floats = mixed[0]
        raise DataQualityError(
            f"{events.source}: column '{name}' holds integers in {redact.url(integers)} and "
            f"floats in {redact.url(floats)}; read together every id would become a float "
            "('7' -> '7.0'): write the column with one type in every file (strings keep ids "
            "exactly)"
        )


def not_utf8(events: EventsInput) -> DataQualityError:
    return DataQualityError(
        f"{events.source}: an id column holds bytes that are not UTF-8 text (a Parquet "
        "BINARY column); write ids as UTF-8 strings"
    )
