"""Reading an optional item-attributes file: the one place its format is decided.

Export (business rules) and evaluate (titles and categories for diagnostics) each project
their own columns from the temp table `attributes_source` this fills.
"""

from __future__ import annotations

import duckdb

from recsys import sqlrun


def read_attributes(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Fill temp table `attributes_source` from a CSV/TSV or Parquet file (by its name)."""
    fmt = "parquet" if path.lower().endswith((".parquet", ".pq")) else "csv"
    sqlrun.run(con, f"attributes_read_{fmt}", {"path": path})
