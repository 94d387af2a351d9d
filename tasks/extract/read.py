"""Reading an events input as `source_rows` and finding its columns (stage and ingest)."""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterator

import duckdb

from recsys import redact, sqlrun
from recsys.config import ColumnMap
from recsys.errors import DataQualityError, RecsysError, SourceUnreachable
from recsys.inputs import EventsInput, duckdb_path, is_url
from recsys.tasks.extract import ids_as_written

# Formats whose rows are numbered in read order without an ordered scan (from each file's
# row count and the row's position in its file), so they can be read lazily.
LAZY_FORMATS = ("parquet",)
# A file's own column of one of these names hides DuckDB's virtual columns, or the aliases,
# that extract/read_parquet numbers rows with: such an input is numbered in read order instead.
_VIRTUAL = (
    "file_index",
    "file_row_number",
    "source_file_index",
    "source_file_row",
    "input_order",
)


def read_source(
    con: duckdb.DuckDBPyConnection,
    events: EventsInput,
    delimiter: str | None,
    *,
    lazy: bool = False,
    columns: ColumnMap | None = None,
    schema_only: bool = False,
) -> bool:
    """Make `source_rows` (the input's rows with `input_order`), which `typed_rows` reads.

    Parameters
    ----------
    con
        The connection that runs the extract SQL.
    events
        The resolved input.
    delimiter
        CSV delimiter; None sniffs the first file's.
    lazy
        If the format allows (`LAZY_FORMATS`), make `source_rows` a view over the files,
        read by the statement that scans it (run it under `scan_errors`), instead of a copy.
    columns
        The configured columns: a CSV header that names one of them twice is refused
        (DuckDB would read the second as `name_1` and the first would win unseen), and the
        id columns are read as written (`ids_as_written`).
    schema_only
        Stop at the view `source_view` (its columns, no rows read beyond DuckDB's sniff):
        what `check_columns` needs.

    Returns
    -------
    Whether `source_rows` is a view (lazy), else a table holding a copy of the input.

    Raises
    ------
    DataQualityError
        The input cannot be read (or, lazily, its schema): one line naming it and DuckDB's
        reason.
    """
    lazy = lazy and events.format in LAZY_FORMATS
    named, ids = (columns.names(), columns.ids()) if columns else ((), ())
    files = [duckdb_path(f) for f in events.files]
    params: dict[str, object] = {"path": files, "delimiter": None, "columns": None}
    try:
        if events.format == "csv":
            # read_csv takes one delimiter for all files: the configured one, else the
            # first file's sniffed one (a NULL delimiter would not sniff).
            params["delimiter"] = delimiter or _sniffed_delimiter(con, events, files[0])
            _check_header(con, events, files[0], str(params["delimiter"]), named)
            _check_later_headers(con, events, files, str(params["delimiter"]), named)
        sqlrun.run(con, "extract/source", params)
        sqlrun.run(con, f"extract/read_{events.format}")
        if events.format == "json":
            ids_as_written.read_json_as_text(con, params, named, ids)
        if events.format == "parquet" and len(files) > 1 and ids:
            ids_as_written.check_parquet_id_types(con, events, ids)
        if schema_only:
            return False
        if events.format == "parquet" and set(_VIRTUAL) & set(_columns(con, "source_view")):
            sqlrun.run(con, "extract/read_parquet_ordered")
            lazy = False
        drop_source(con)
        sqlrun.run(con, "extract/source_lazy" if lazy else "extract/source_copy")
    except duckdb.Error as exc:
        refusal = ids_as_written.json_refusal(con, events, exc, named, ids)
        if refusal is not None:
            raise refusal from exc
        raise _unreadable(con, events, exc, delimiter or params["delimiter"], named) from exc
    return lazy


@contextlib.contextmanager
def scan_errors(
    con: duckdb.DuckDBPyConnection, events: EventsInput, delimiter: str | None, lazy: bool = True
) -> Iterator[None]:
    """Run the statement that scans `source_rows` through `typed_rows` (for a lazy one, the
    first to read the files' rows).

    An id that is not UTF-8 text is a one-line DataQualityError. Another DuckDB error of a
    lazy scan is checked by copying the input (`read_source` without `lazy`): a file that
    cannot be read then fails with read_source's one-line DataQualityError, and any other
    error (memory, disk) is raised as it was.
    """
    try:
        yield
    except duckdb.Error as exc:
        if ids_as_written.NOT_UTF8_ID in str(exc):
            raise ids_as_written.not_utf8(events) from exc
        if lazy:
            read_source(con, events, delimiter)
        raise


def drop_source(con: duckdb.DuckDBPyConnection) -> None:
    """Drop `source_rows`, whether a copy (table) or lazy (view)."""
    for kind in ("table", "view"):  # DROP of the other kind fails on the name
        with contextlib.suppress(duckdb.CatalogException):
            con.execute(f"drop {kind} if exists source_rows")


# What _sniffed_delimiter tries when DuckDB's sniffer gives up on a file.
_DELIMITERS = (",", "\t", ";", "|")
_LINE_ERROR = re.compile(r"CSV Error on Line: (\d+)")
_SNIFF_FAILED = re.compile(r'Error when sniffing file "([^"]+)"')
_FILE = re.compile(r"^\s*file = (.+)$", flags=re.MULTILINE)
_FIELDS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def _sniffed_delimiter(con: duckdb.DuckDBPyConnection, events: EventsInput, first: str) -> str:
    """The first file's delimiter as DuckDB's sniffer finds it. When the sniffer gives up
    (one malformed row is enough: it fails, naming neither the row nor the reason, or it
    reads each line as one column), the delimiter that splits the header into the most
    columns is tried with the standard quote: if the file reads, that is the delimiter; if
    not, the error names the line."""
    sniffed: duckdb.Error | None = None
    try:
        found = sqlrun.fetch_one(con, "extract/sniff_csv", params={"first_file": first})
        if found["column_count"] > 1:
            return found["delimiter"]
    except duckdb.Error as exc:
        sniffed = exc
    line = _first_line(con, first)
    widths = {d: 0 if line is None else len(_split(line, d)) for d in _DELIMITERS}
    if max(widths.values()) < 2:
        if sniffed is not None:
            raise sniffed
        return found["delimiter"]  # one column whatever the delimiter: check_layout says so
    widest = max(widths, key=lambda d: (widths[d], -_DELIMITERS.index(d)))
    try:
        _strict_read(con, first, widest, widths[widest])
    except duckdb.Error as exc:
        raise DataQualityError(f"{events.source}: cannot be read as csv: {_bad_line(exc)}") from exc
    return widest


def _first_line(con: duckdb.DuckDBPyConnection, file: str) -> str | None:
    """The file's first line as written (None: unreadable)."""
    try:
        line = sqlrun.fetch_one(con, "extract/csv_first_line", params={"file": file}).get("line")
    except duckdb.Error:
        return None
    return (line or "").rstrip("\r").removeprefix("\ufeff")


def _header(con: duckdb.DuckDBPyConnection, file: str, delimiter: str) -> list[str]:
    """The names in the file's first line, split by `delimiter` with the standard quote, as
    written: DuckDB's reader renames a repeated name `name_1`, hiding the repeat."""
    line = _first_line(con, file)
    return [] if line is None else _split(line, delimiter)


def _split(line: str, delimiter: str) -> list[str]:
    if len(delimiter) > 1:
        # Python's csv takes one character (DuckDB up to four): stand in one the line lacks.
        stand = next(c for c in "\x1f\x1e\x1d\x1c\x01" if c not in line)
        line, delimiter = line.replace(delimiter, stand), stand
    return next(csv.reader([line], delimiter=delimiter))


def _strict_read(con: duckdb.DuckDBPyConnection, file: str, delimiter: str, width: int) -> None:
    """Read `file` with `delimiter` as `width` text columns, nothing sniffed; raises
    DuckDB's error naming the first line that does not split into that many."""
    columns = {f"column{i}": "VARCHAR" for i in range(width)}
    params = {"file": file, "delimiter": delimiter, "columns": columns}
    sqlrun.run(con, "extract/csv_probe", params)


def _bad_line(exc: duckdb.Error) -> str:
    """DuckDB's strict CSV error as the line number and the reason, without the line."""
    message = str(exc)
    line, fields = _LINE_ERROR.search(message), _FIELDS.search(message)
    if line and fields:
        more = int(fields.group(2)) > int(fields.group(1))
        return (
            f"line {line.group(1)} has {'more' if more else 'fewer'} fields than the header's "
            f"{fields.group(1)} (a stray delimiter, a missing value or a quote left open)"
        )
    if line and "unterminated quote" in message:
        return f"line {line.group(1)} opens a quote that is never closed"
    return redact.db_error(exc)


def _check_header(
    con: duckdb.DuckDBPyConnection,
    events: EventsInput,
    first_file: str,
    delimiter: str,
    named: tuple[str, ...],
) -> None:
    cells = _header(con, first_file, delimiter)
    for name in dict.fromkeys(named):
        if cells.count(name) > 1:
            raise DataQualityError(
                f"{events.source}: the header names column '{name}' {cells.count(name)} "
                "times; which one to read is ambiguous (rename the others)"
            )


# Headers of a glob's later files compared with the first's: each costs one small read.
MAX_HEADERS_CHECKED = 1000


def _check_later_headers(
    con: duckdb.DuckDBPyConnection,
    events: EventsInput,
    files: list[str],
    delimiter: str,
    named: tuple[str, ...],
) -> None:
    """Refuse a glob whose later file lacks a column the first file's header has, read with
    the first file's delimiter: another delimiter, no header, other names. DuckDB reads such
    a file's rows with the column missing (NULL ids): the run then failed on `null_ids` at
    0.5, naming neither the file nor the cause."""
    if len(files) < 2 or any(is_url(f) for f in files):
        return
    first = _header(con, files[0], delimiter)
    wanted = [name for name in dict.fromkeys(named) if name in first]
    for file in files[1:MAX_HEADERS_CHECKED]:
        cells = _header(con, file, delimiter)
        if not any(cells):
            raise DataQualityError(
                f"{events.source}: {redact.url(file)} is empty (no header row, no data): "
                "remove it or narrow the glob"
            )
        missing = [name for name in wanted if name not in cells]
        if missing:
            raise DataQualityError(
                f"{events.source}: {redact.url(file)} lacks column(s) "
                f"{', '.join(repr(m) for m in missing)} that {redact.url(files[0])} has, read "
                f"with its delimiter {delimiter!r} (another delimiter, no header, other names?)"
            )


def _unreadable(
    con: duckdb.DuckDBPyConnection,
    events: EventsInput,
    exc: duckdb.Error,
    delimiter: object,
    named: tuple[str, ...] = (),
) -> RecsysError:
    message = str(exc)
    fetch_failed = isinstance(exc, duckdb.IOException)  # HTTPException is one
    if is_url(events.files[0]) and (fetch_failed or _UNREACHABLE.search(message)):
        # Not the data's fault (exit 1, retried): "cannot be read as csv" sent users to
        # the file's format.
        reason = (
            "DuckDB's httpfs extension is not installed and could not be downloaded (no "
            "internet? run INSTALL httpfs once where it can, or copy the file to a local path)"
            if _NO_EXTENSION in message
            else f"the connection failed ({redact.db_error(exc, keep=())})"
        )
        return SourceUnreachable(f"{events.source}: cannot be fetched: {reason}")
    if events.format == "csv" and delimiter:
        later = _SNIFF_FAILED.search(message)
        if later:  # a later file of a glob: read strictly, the error then names the line
            try:
                path, sep = later.group(1), str(delimiter)
                _strict_read(con, path, sep, max(len(_header(con, path, sep)), 1))
            except duckdb.Error as probe:
                exc, message = probe, str(probe)
        file = _FILE.search(message)
        if _LINE_ERROR.search(message):
            name = f"{file.group(1).strip()}: " if file and len(events.files) > 1 else ""
            return DataQualityError(
                f"{events.source}: cannot be read as csv: {name}{_bad_line(exc)}"
            )
    # DuckDB's CSV errors put the reason (e.g. "not utf-8 encoded") after the echoed row,
    # which must not be shown (it is file content): redact.db_error keeps one and not the other.
    if events.format == "csv" and _NO_DIALECT in message:
        # DuckDB then lists its whole search space: the user needs the one fact it says.
        return DataQualityError(
            f"{events.source}: cannot be read as csv: no delimiter and quoting make it a "
            "table (not a CSV file? see extract.input_format and extract.csv_delimiter)"
        )
    cast = _PARQUET_CAST.search(message) if events.format == "parquet" else None
    if cast and cast.group(2) in named:
        file, column, stored, wanted = cast.groups()
        return DataQualityError(
            f"{events.source}: column '{column}' is stored as {stored} in {redact.url(file)} "
            f"and as {wanted} in another file; DuckDB reads a glob's files as one column: "
            "write it with one type in every file"
        )
    duplicate = _DUPLICATE_KEY.search(message) if events.format == "json" else None
    if duplicate:
        # The key is file content: named only when it is one of the columns the run reads.
        line, key = duplicate.groups()
        which = f"key '{key}'" if key in named else "key"
        return DataQualityError(
            f"{events.source}: cannot be read as json: line {line} names the same {which} "
            "twice in one object (one value per column and row)"
        )
    # The configured column names are the user's, not file content: shown when quoted.
    keep = (*events.files, *(duckdb_path(f) for f in events.files), *named)
    reason = redact.db_error(exc, keep=keep)
    return DataQualityError(f"{events.source}: cannot be read as {events.format}: {reason}")


_PARQUET_CAST = re.compile(
    r'reading file "([^"]+)": failed to cast column "([^"]+)" from type ([A-Z][A-Z0-9 ()]*?) '
    r"to ([A-Z][A-Z0-9 ()]*?)\s*:"
)
_NO_EXTENSION = "install the required extension"
_UNREACHABLE = re.compile(
    rf"{_NO_EXTENSION}|could not establish connection|connection refused|failed to resolve|"
    r"could not resolve host|timed out",
    re.IGNORECASE,
)
_NO_DIALECT = "not possible to automatically detect the CSV parsing dialect"
_DUPLICATE_KEY = re.compile(r'in line (\d+): Object .* has duplicate key "([^"\n]*)"', re.S)


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return list(sqlrun.column_types(con, relation))
