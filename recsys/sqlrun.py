"""The one way SQL is run: files from `sql/`, values bound as parameters, names quoted.

Files live in a folder per stage (`sql/extract/typed.sql` is run as "extract/typed"). They
hold fixed table names and `$param` placeholders. The only text ever substituted into a
file is `{{slot}}` markers, filled with quoted identifiers (or NULL for an absent optional
column): user-supplied values never become SQL text.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from recsys.config.section import checked_size

_SLOT = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB (embedded quotes doubled), whatever it contains."""
    if "\x00" in name:
        raise ValueError("identifier contains a NUL byte")
    return '"' + name.replace('"', '""') + '"'


@cache
def sql_text(name: str) -> str:
    """The text of `sql/<name>.sql`; `name` is "<folder>/<file>", e.g. "extract/typed"."""
    *folders, file = name.split("/")
    return resources.files("recsys.sql").joinpath(*folders, f"{file}.sql").read_text()


def render(text: str, idents: dict[str, str | None] | None = None) -> str:
    """Fill `{{slot}}` markers with quoted identifiers; None becomes NULL."""
    idents = idents or {}

    def fill(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot not in idents:
            raise KeyError(f"SQL slot '{slot}' has no identifier")
        value = idents[slot]
        return "NULL" if value is None else quote_ident(value)

    return _SLOT.sub(fill, text)


def connect(
    database: Path | str | None = None,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC, with the stage's memory and thread limits."""
    con = duckdb.connect(str(database) if database else ":memory:", read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on a terminal for long queries: noise in a pipeline log.
    con.execute("SET enable_progress_bar = false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{checked_size(memory_limit)}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def run(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: dict[str, Any] | None = None,
    idents: dict[str, str | None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Execute `sql/<name>.sql` with bound parameters; returns the connection for fetching."""
    text = render(sql_text(name), idents)
    used = set(re.findall(r"\$(\w+)", text))
    bound = {k: v for k, v in (params or {}).items() if k in used}
    missing = used - bound.keys()
    if missing:
        raise KeyError(f"sql/{name}.sql needs parameters {sorted(missing)}")
    return con.execute(text, bound) if bound else con.execute(text)


def arrow(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None):
    """Run a query file and return its result as a pyarrow Table."""
    text = sql_text(name)
    used = set(re.findall(r"\$(\w+)", text))
    bound = {k: v for k, v in (params or {}).items() if k in used}
    return con.sql(text, params=bound or None).to_arrow_table()


def column_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """Each column of a table or view (a name of ours, quoted here) and its DuckDB type, in
    order."""
    return {row[0]: row[1] for row in con.execute(f"describe {quote_ident(relation)}").fetchall()}


def fetch_one(con: duckdb.DuckDBPyConnection, name: str, **kwargs: Any) -> dict[str, Any]:
    """Run a one-row query and return it as a dict."""
    cur = run(con, name, **kwargs)
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()  # to the end: DuckDB refuses some calls while a result is open
    return dict(zip(cols, rows[0], strict=True)) if rows else {}
