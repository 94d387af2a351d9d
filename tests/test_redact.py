"""Secrets and file content never shown: URLs redacted wherever they are shown or stored, a
failed webhook logged without its secret, library errors without the file's lines, the
Dask cluster on loopback."""

from __future__ import annotations

import logging

import duckdb
import pytest

from recsys import redact
from recsys.config import ItemAttributes, OpsConfig
from recsys.data.attributes import load_attributes
from recsys.errors import UsageError
from recsys.inputs import resolve
from recsys.ops import notify
from recsys.ops.scaleout import task_runner
from recsys.tasks.extract.ingest import _key

PRESIGNED = "https://bucket.s3.example/e.csv?X-Amz-Credential=AKIA&X-Amz-Signature=SECRET"


def test_urls_lose_query_string_and_user_info():
    assert redact.url(PRESIGNED) == "https://bucket.s3.example/e.csv?<redacted>"
    assert redact.url("https://me:pw@host:8443/a.csv") == "https://<redacted>@host:8443/a.csv"
    assert redact.url("https://hooks.example/services/T0/B0/SECRET", keep_path=False) == (
        "https://hooks.example/<redacted>"
    )
    assert redact.url(redact.url(PRESIGNED)) == redact.url(PRESIGNED)  # idempotent
    assert "SECRET" not in redact.text(f"HTTP GET error on '{PRESIGNED}' (403)")


def test_an_events_url_is_stored_without_its_token():
    source = resolve(PRESIGNED)
    assert "SECRET" not in source.source + source.fingerprint
    assert source.files == [PRESIGNED]  # what DuckDB reads keeps it
    assert "SECRET" not in _key(PRESIGNED)  # the warehouse's name of the file


def test_a_failed_webhook_logs_scheme_and_host_only(monkeypatch, caplog):
    secret = "http://127.0.0.1:9/services/T000/B000/SECRETTOKEN?key=SECRET2"
    monkeypatch.setenv(notify.ENV, secret)
    flow = type("F", (), {"name": "f"})()
    run = type("R", (), {"name": "r", "id": 1, "parameters": {}})()
    state = type("S", (), {"name": "Failed", "message": "x"})()
    with caplog.at_level(logging.WARNING):
        notify.notify_hook(flow, run, state)
    assert "notification to http://127.0.0.1:9/<redacted>?<redacted> failed" in caplog.text
    assert "SECRET" not in caplog.text


def test_an_attributes_error_does_not_echo_the_file(tmp_path):
    shadow = tmp_path / "shadow.csv"
    shadow.write_text("root:$6$SECRETHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    with pytest.raises(UsageError) as info:
        load_attributes(ItemAttributes(path=str(shadow)))
    assert "SECRETHASH" not in str(info.value) and "root:" not in str(info.value)
    assert str(shadow) in str(info.value) and "\n" not in str(info.value)


def test_db_errors_keep_the_reason_but_no_content():
    try:
        duckdb.sql("select cast('secret-value' as integer)").fetchall()
    except duckdb.Error as exc:
        shown = redact.db_error(exc)
    assert "secret-value" not in shown and "INT" in shown


def test_the_dask_cluster_listens_on_loopback_unless_configured():
    kwargs = task_runner(OpsConfig(task_runner="dask")).cluster_kwargs
    assert kwargs["host"] == "127.0.0.1" and kwargs["dashboard_address"] == "127.0.0.1:8787"
    off = task_runner(OpsConfig(task_runner="dask", dask_dashboard=None)).cluster_kwargs
    assert off["dashboard_address"] is None
