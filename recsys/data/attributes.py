"""The optional item-attributes file: the one place its format is decided and read.

Export (business rules) and evaluate (titles and categories for diagnostics) each project
their own columns from the temp table `attributes_source` that `read_attributes` fills.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb

from recsys import redact, sqlrun
from recsys.config import ItemAttributes
from recsys.data.movielens import ITEMS, ml100k_raw
from recsys.errors import UsageError


def read_attributes(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Fill temp table `attributes_source` from a CSV/TSV or Parquet file (by its name)."""
    fmt = "parquet" if path.lower().endswith((".parquet", ".pq")) else "csv"
    sqlrun.run(con, f"data/attributes_{fmt}", {"path": path})


def resolve_attributes(
    attrs: ItemAttributes, events: str | None, data_dir: Path | str
) -> ItemAttributes | None:
    """The attributes file to use: the configured one, else MovieLens's on the default
    data set (its columns are the config defaults), else None."""
    if attrs.path:
        return attrs
    if events is None:
        try:
            return attrs.model_copy(update={"path": str(ml100k_raw(Path(data_dir)) / ITEMS)})
        except Exception:
            return None
    return None


def check_attributes_path(path: str | None, key: str) -> None:
    """A configured attributes file must be a regular file (a FIFO or device would block
    the read forever); UsageError naming the key otherwise."""
    if path is None or "://" in path:
        return
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UsageError(f"{key} {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(mode):
        raise UsageError(f"{key} {path} is not a regular file")


def check_attributes(attrs: ItemAttributes) -> None:
    """Read a configured attributes file once: a bad one is a UsageError (exit 2) before
    anything is computed, not after training."""
    if attrs.path:
        check_attributes_path(attrs.path, "evaluate.item_attributes.path")
        load_attributes(attrs)


def load_attributes(attrs: ItemAttributes | None) -> dict[str, tuple[str | None, str | None]]:
    """item_id -> (title, first category) from the attributes file ({} when none)."""
    if attrs is None or not attrs.path:
        return {}
    idents = {"id": attrs.id_column, "title": attrs.title_column, "category": attrs.category_column}
    try:
        with sqlrun.connect() as con:
            read_attributes(con, attrs.path)
            rows = sqlrun.run(con, "data/attributes_titles", idents=idents).fetchall()
    except duckdb.Error as exc:
        # The reason without quoted file content (a wrong file's first line, e.g. the
        # root entry of /etc/shadow, would be quoted as the candidate columns).
        keep = (attrs.path, *(c for c in idents.values() if c))
        reason = redact.db_error(exc, keep=keep)
        raise UsageError(f"evaluate.item_attributes {attrs.path}: {reason}") from exc
    out = {}
    for item, title, category in rows:
        if category is not None and attrs.category_separator:
            category = category.split(attrs.category_separator)[0] or None
        out[item] = (title, category)
    return out
