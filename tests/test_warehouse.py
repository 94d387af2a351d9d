"""DATA_DIR/warehouse.duckdb carries its schema version; a newer one is refused, an
unversioned one rebuilt (extract/test_extract_differential.py checks the rebuilt events)."""

from __future__ import annotations

import duckdb
import pytest

from recsys.errors import UsageError
from recsys.layout import warehouse_path
from recsys.warehouse import SCHEMA_VERSION, open_warehouse


def test_a_new_warehouse_gets_every_table_and_the_version(tmp_path):
    with open_warehouse(tmp_path) as con:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        version = con.execute("select version from wh_schema").fetchall()
    assert {"wh_events", "wh_files", "wh_watermark", "run_metrics", "wh_schema"} <= tables
    assert version == [(SCHEMA_VERSION,)]
    with open_warehouse(tmp_path) as con:  # opening again changes nothing
        assert con.execute("select count(*) from wh_schema").fetchone() == (1,)


def test_an_unversioned_warehouse_keeps_its_metrics_history(tmp_path):
    with duckdb.connect(str(warehouse_path(tmp_path))) as con:  # as evaluate wrote it before
        con.execute(
            "create table run_metrics (run_id varchar, evaluated_at timestamptz, source varchar, "
            "metric varchar, value double, gate_passed boolean)"
        )
        con.execute("insert into run_metrics (run_id, value) values ('r0', 0.25)")
        con.execute("create table wh_events (file_path varchar)")
    with open_warehouse(tmp_path) as con:
        assert con.execute("select run_id, value from run_metrics").fetchall() == [("r0", 0.25)]
        columns = {r[0] for r in con.execute("describe wh_events").fetchall()}
    assert {"file_row", "result"} <= columns  # the event tables were rebuilt


def test_a_warehouse_of_a_newer_version_is_refused(tmp_path):
    with open_warehouse(tmp_path) as con:
        con.execute("update wh_schema set version = version + 1")
    with pytest.raises(UsageError, match="newer than this recsys writes"):
        open_warehouse(tmp_path)
