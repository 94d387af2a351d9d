"""Two runs never write DATA_DIR/warehouse.duckdb at once: a global concurrency limit of one
slot (created on first use) serialises the evaluate stage's warehouse writer."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest
from prefect import flow

from recsys.layout import WAREHOUSE, RunPaths
from recsys.ops.locks import WAREHOUSE_LIMIT
from recsys.tasks.evaluate import history, report, reporting


def _metrics(value: float) -> dict:
    return {"gate": {"passed": True}, "models": {"item2vec": {"hr@20": value}}}


@flow(name="warehouse-writer")
def _writer(data_dir: str, run_id: str, value: float) -> None:
    paths = RunPaths(data_dir=data_dir, run_id=run_id)
    reporting.record_and_render(paths, _metrics(value), None)


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_two_runs_take_turns_on_the_warehouse(tmp_path, monkeypatch):
    from prefect.client.orchestration import get_client

    spans: list[tuple[float, float]] = []
    real_write = history.record_history

    def slow_write(*args, **kwargs):  # the real write, held open long enough to collide
        start = time.monotonic()
        rows = real_write(*args, **kwargs)
        time.sleep(1.5)
        spans.append((start, time.monotonic()))
        return rows

    monkeypatch.setattr(history, "record_history", slow_write)
    monkeypatch.setattr(report, "write_report", lambda *a: None)
    runs = [
        threading.Thread(target=_writer, args=(str(tmp_path), f"run-{i}", i / 10)) for i in (1, 2)
    ]
    for t in runs:
        t.start()
    for t in runs:
        t.join(120)
    assert len(spans) == 2
    (_, a_end), (b_start, _) = sorted(spans)
    assert a_end <= b_start, f"writers overlapped: {spans}"
    with duckdb.connect(str(tmp_path / WAREHOUSE), read_only=True) as con:
        rows = con.execute("select run_id, value from run_metrics order by run_id").fetchall()
    assert rows == [("run-1", 0.1), ("run-2", 0.2)]
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT).limit == 1
