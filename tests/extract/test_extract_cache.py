"""The extract cache: a rerun on the same input bytes and settings reuses the stage; any
change of content, setting or a row near the clock's future bound re-extracts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow.parquet as pq
import pytest

from helpers import FAST, events_csv, run_cli
from recsys.config import ExtractConfig, OpsConfig, PipelineConfig
from recsys.inputs import EventsInput
from recsys.layout import RunPaths
from recsys.tasks.extract import extract_cached
from recsys.tasks.extract.cache import cache_dir, cache_key

T0 = 1_700_000_000


def _rows(n_users: int = 30) -> list[tuple]:
    return [
        (f"u{u}", f"i{(u + k) % 12}", T0 + 60 * k + 3600 * u)
        for u in range(n_users)
        for k in range(6)
    ]


def _stage(paths: RunPaths) -> tuple:
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        events = con.execute("select * from events order by all").fetchall()
        items = con.execute("select * from items order by all").fetchall()
    return events, items, paths.corpus.read_text()


def _run(data, events, cfg=ExtractConfig(), keep=1):
    paths = RunPaths.new(data, str(events))
    cfg = PipelineConfig(extract=cfg, ops=OpsConfig(extract_cache=keep))
    return paths, extract_cached(paths, cfg)


def test_a_rerun_reuses_the_stage_and_changes_are_misses(tmp_path):
    events = events_csv(tmp_path / "ev.csv", _rows())
    data = tmp_path / "data"
    first_paths, first = _run(data, events)
    assert first.details["cache"].startswith("stored")
    assert (
        json.loads((first_paths.out / "extract.json").read_text())["details"]["cache"]
        == first.details["cache"]
    )
    second_paths, second = _run(data, events)
    assert second.details["cache"].startswith("hit")
    assert second_paths.stage_db != first_paths.stage_db  # a copy, not the old run's file
    assert _stage(second_paths) == _stage(first_paths)
    assert (second_paths.out / "extract.json").is_file()
    assert second.rows_out == first.rows_out

    # Same size and name, one item changed: the content fingerprint misses.
    rows = _rows()
    rows[0] = ("u0", "i11", rows[0][2])
    events_csv(events, rows)
    _, changed = _run(data, events)
    assert changed.details["cache"].startswith("stored")
    # A setting that changes the result misses; one that only changes speed hits.
    _, other = _run(data, events, ExtractConfig(session_gap_minutes=1))
    assert other.details["cache"].startswith("stored")
    _, faster = _run(data, events, ExtractConfig(session_gap_minutes=1, threads=1))
    assert faster.details["cache"].startswith("hit")
    assert len(list(cache_dir(data).iterdir())) == 1  # keep=1: older entries pruned


def test_rows_cut_by_the_future_bound_are_never_cached(tmp_path):
    soon = int((datetime.now(UTC) + timedelta(days=30)).timestamp())  # beyond the tolerance
    far = 9_000_000_000_000_000_000  # nanoseconds (auto): the year 2255
    for i, late in enumerate((soon, far)):
        events = events_csv(tmp_path / f"ev{i}.csv", [*_rows(), ("u0", "i1", late)])
        data = tmp_path / f"data{i}"
        _, first = _run(data, events)
        assert "cache" not in first.details
        _, second = _run(data, events)
        assert "cache" not in second.details
        assert not cache_dir(data).exists() or not any(cache_dir(data).iterdir())


def test_cache_off_and_url_inputs_are_not_cached(tmp_path):
    events = events_csv(tmp_path / "ev.csv", _rows())
    _, report = _run(tmp_path / "data", events, keep=0)
    assert "cache" not in report.details and not cache_dir(tmp_path / "data").exists()
    url = EventsInput(
        source="s3://b/ev.parquet",
        format="parquet",
        files=["s3://b/ev.parquet"],
        fingerprint="url:s3://b/ev.parquet",
    )
    assert cache_key(url, ExtractConfig()) is None  # content unknown


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_a_pipeline_rerun_publishes_the_same_model_from_the_cache(tmp_path, planted_events):
    data = tmp_path / "d"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    first = json.loads((data / "published" / "current" / "manifest.json").read_text())
    time.sleep(1)  # distinct run ids
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    second = json.loads((data / "published" / "current" / "manifest.json").read_text())
    assert second["run_id"] != first["run_id"]
    extract_json = (data / "published" / "current" / "extract.json").read_text()
    assert json.loads(extract_json)["details"]["cache"].startswith("hit")
    # Same stage in, same model out: identical recommendations (training is seeded, 1 thread).
    recs = [
        pq.read_table(data / "runs" / m["run_id"] / "item_recs.parquet") for m in (first, second)
    ]
    assert recs[0].equals(recs[1])
