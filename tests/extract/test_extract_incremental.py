"""Incremental extraction and backfill: the warehouse path equals a full rebuild."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import duckdb
import pytest

from helpers import NOW, events_csv, run_cli, stage, without_incremental
from recsys.config import ExtractConfig, PipelineConfig
from recsys.errors import DataQualityError
from recsys.layout import RunPaths
from recsys.tasks.extract import extract
from recsys.tasks.extract.backfill import backfill

DAY0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())
HEADER = "user_id,item_id,timestamp,event_type"


def day_rows(day: int) -> list[tuple]:
    """Three users a day; u1's evening session runs past midnight into the next day's file,
    a same-second tie, a duplicate and a bot (60 events in one minute) on day 1."""
    t = DAY0 + day * 86_400
    rows = [
        ("u1", f"a{day}", t - 600, "view"),  # belongs to the previous evening's session
        ("u1", f"b{day}", t + 3600, "view"),
        ("u1", f"c{day}", t + 3600, "click"),  # tie: input order decides
        ("u1", f"c{day}", t + 3601, "click"),  # repeat: collapsed
        ("u2", f"b{day}", t + 7200, "view"),
        ("u2", f"b{day}", t + 7200, "view"),  # exact duplicate
        ("u2", f"d{day}", t + 7300, "cart"),
        ("u3", f"a{day}", t + 80_000, "view"),
        ("u3", f"d{day}", t + 80_100, "purchase"),
    ]
    rows += [("u1", f"e{day}", t + 86_400 - 300, "view")]  # evening, continues tomorrow
    if day == 1:
        rows += [("bot", f"x{i}", t + 39_960 + i // 3, "view") for i in range(60)]
    return rows


def write_day(folder, day: int, rows=None):
    part = folder / f"date=2024-03-0{day + 1}"
    part.mkdir(parents=True, exist_ok=True)
    return events_csv(part / "part-0.csv", rows or day_rows(day), header=HEADER)


CFG = {
    "test_fraction": 0.25,
    "validation_fraction": 0.1,
    "max_events_per_minute": 30,
    "event_type_weights": {"purchase": 3},
}


def run(tmp_path, data, events, incremental: bool):
    cfg = PipelineConfig(extract=ExtractConfig(**CFG, incremental=incremental))
    paths = RunPaths.new(data, str(events))
    report = extract(paths, cfg, now=NOW)
    return paths, report


def test_day_by_day_equals_full_rebuild_and_reruns_are_idempotent(tmp_path):
    inc_dir, full_dir = tmp_path / "inc", tmp_path / "full"
    data = tmp_path / "data"
    reports = []
    for day in range(4):
        write_day(inc_dir, day)
        paths, report = run(tmp_path, data, inc_dir, incremental=True)
        reports.append(report.details["incremental"])
        assert report.details["incremental"]["files_new"] == 1
        assert report.details["incremental"]["files_skipped"] == day
    # The day-2 file holds u1's event from just before midnight of day 1: late, counted.
    assert [r["late_rows"] for r in reports] == [0, 1, 1, 1]
    for day in range(4):
        write_day(full_dir, day)
    full_paths, full = run(tmp_path, tmp_path / "full-data", full_dir, incremental=False)
    assert stage(paths) == stage(full_paths)
    assert without_incremental(report.details) == without_incremental(full.details)
    assert report.details["corpus_sha256"] == full.details["corpus_sha256"]
    # The midnight-crossing evening session is one session, built across two files.
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        joined = con.execute(
            "select list(item_id order by pos) from events where user_id = 'u1' "
            "group by session having list_contains(list(item_id), 'e0')"
        ).fetchall()
    assert joined == [(["a1", "e0"],)]  # a1 (day-2 file) is 5 min before e0 (day-1 file)
    assert full.details["bot_users"] == 1

    again_paths, again = run(tmp_path, data, inc_dir, incremental=True)
    assert again.details["incremental"]["files_skipped"] == 4
    assert again.details["incremental"]["rows_ingested"] == 0
    assert again.details["incremental"]["warehouse_rows"] == full.rows_in
    assert stage(again_paths) == stage(full_paths)
    assert again.rows_out == full.rows_out


def test_changed_partition_replaces_its_rows(tmp_path):
    inc_dir, full_dir = tmp_path / "inc", tmp_path / "full"
    data = tmp_path / "data"
    for day in range(3):
        write_day(inc_dir, day)
    run(tmp_path, data, inc_dir, incremental=True)
    corrected = day_rows(1)[:-3] + [("u4", "z1", DAY0 + 86_400 + 100, "view")]
    corrected += [("u4", "z2", DAY0 + 86_400 + 160, "view")]
    write_day(inc_dir, 1, corrected)
    paths, report = run(tmp_path, data, inc_dir, incremental=True)
    assert report.details["incremental"]["files_changed"] == 1
    assert report.details["incremental"]["files_skipped"] == 2
    shutil.copytree(inc_dir, full_dir)
    full_paths, full = run(tmp_path, tmp_path / "full-data", full_dir, incremental=False)
    assert stage(paths) == stage(full_paths)
    assert report.rows_in == full.rows_in == len(day_rows(0)) + len(corrected) + len(day_rows(2))


def test_backfill_rebuilds_a_date_range(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    for day in range(3):
        write_day(folder, day)
    run(tmp_path, data, folder, incremental=True)
    # Day 1 is re-delivered under another file name, without the bot and with u5's session;
    # the old file is gone. Warehouse rows dated day 1 must go; u1's late row (dated day 0,
    # from the old day-1 file) is outside the range and stays.
    shutil.rmtree(folder / "date=2024-03-02")
    fixed = [r for r in day_rows(1) if r[0] != "bot"]
    fixed += [("u5", "q1", DAY0 + 86_400 + 50, "view"), ("u5", "q2", DAY0 + 86_400 + 90, "view")]
    (folder / "date=2024-03-02").mkdir()
    events_csv(folder / "date=2024-03-02" / "part-fixed.csv", fixed, header=HEADER)
    cfg = PipelineConfig(extract=ExtractConfig(**CFG))
    start = datetime(2024, 3, 2, tzinfo=UTC)
    end = datetime(2024, 3, 3, tzinfo=UTC)
    report = backfill(RunPaths.new(data, str(folder)), cfg, start, end)
    assert report.details["files_new"] == 1  # part-fixed.csv, read whole
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        users = dict(con.execute("select user_id, count(*) from wh_events group by 1").fetchall())
        files = [r[0] for r in con.execute("select file_path from wh_files order by 1").fetchall()]
    assert "bot" not in users and users["u5"] == 2
    assert any(f.endswith("03-02/part-0.csv") for f in files)  # still holds the late row
    again = backfill(RunPaths.new(data, str(folder)), cfg, start, end)
    assert again.details["warehouse_rows"] == report.details["warehouse_rows"]
    assert again.details["files_skipped"] == 0 and again.details["files_new"] == 0

    # Expected: the current files plus the old day-1 file's one row dated before the range.
    kept_late = [r for r in day_rows(1) if r[2] < DAY0 + 86_400]
    assert len(kept_late) == 1
    expect_dir = tmp_path / "expect"
    shutil.copytree(folder, expect_dir)
    events_csv(expect_dir / "date=2024-03-02" / "part-0.csv", kept_late, header=HEADER)
    paths, after = run(tmp_path, data, folder, incremental=True)
    assert after.details["incremental"]["files_skipped"] == 3
    full_paths, full = run(tmp_path, tmp_path / "full-data", expect_dir, incremental=False)
    assert stage(paths) == stage(full_paths)
    assert after.details["corpus_sha256"] == full.details["corpus_sha256"]


def _stored(data) -> int:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.execute("select count(*) from wh_events").fetchone()[0]


def test_a_backfill_with_no_rows_in_its_range_does_not_erase_it(tmp_path):
    """A header-only re-delivery of day 1 would silently delete the stored day: refused
    (the warehouse as it was) unless the caller empties the range on purpose."""
    folder, data = tmp_path / "in", tmp_path / "data"
    for day in range(2):
        write_day(folder, day)
    cfg = PipelineConfig(extract=ExtractConfig(**CFG))
    backfill(RunPaths.new(data, str(folder)), cfg)  # new files are read whole
    before = _stored(data)
    shutil.rmtree(folder / "date=2024-03-02")
    (folder / "date=2024-03-02").mkdir()
    (folder / "date=2024-03-02" / "part-0.csv").write_text(HEADER + "\n")
    start, end = datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC)
    paths = RunPaths.new(data, str(folder))
    with pytest.raises(DataQualityError, match=r"holds no events in \[2024-03-02 00:00:00"):
        backfill(paths, cfg, start, end)
    assert _stored(data) == before
    emptied = backfill(RunPaths.new(data, str(folder)), cfg, start, end, allow_empty=True)
    # the changed file is replaced whole (its one row dated day 0 too): day 0's file is left
    assert emptied.details["warehouse_rows"] == _stored(data) == len(day_rows(0)) < before


def test_backfill_refuses_an_empty_range(tmp_path):
    write_day(tmp_path / "in", 0)
    cfg = PipelineConfig()
    day = datetime(2024, 3, 1)
    with pytest.raises(Exception, match="before end"):
        backfill(RunPaths.new(tmp_path / "data", str(tmp_path / "in")), cfg, day, day)


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_backfill_flow_defaults_to_yesterday_and_reports(tmp_path):
    from recsys.flows.backfill import backfill as backfill_flow

    write_day(tmp_path / "in", 0)
    data = tmp_path / "data"
    result = backfill_flow(events=str(tmp_path / "in"), data_dir=str(data))
    details = result["backfill"]["details"]
    today = datetime.now(UTC).date()
    assert details["end"] == f"{today} 00:00:00"
    assert details["files_new"] == 1 and details["warehouse_rows"] == len(day_rows(0))
    assert "pipeline" not in result


def test_a_bad_new_file_leaves_the_warehouse_as_it_was(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    write_day(folder, 0)
    _, first = run(tmp_path, data, folder, incremental=True)
    part = folder / "date=2024-03-02"
    part.mkdir()
    (part / "part-0.csv").write_text("user_id,item_id\nu1,a\n")  # no timestamp column
    cfg = PipelineConfig(extract=ExtractConfig(**CFG, incremental=True))
    paths = RunPaths.new(data, str(folder))
    with pytest.raises(DataQualityError, match="missing required column 'timestamp'"):
        extract(paths, cfg, now=NOW)
    assert not (paths.work_dir / "ingest").exists()
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select count(*) from wh_events").fetchone()[0]
        files = con.execute("select count(*) from wh_files").fetchone()[0]
    assert rows == first.details["incremental"]["warehouse_rows"] and files == 1


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_backfill_command(tmp_path, capsys):
    folder, data = tmp_path / "in", tmp_path / "data"
    for day in range(2):
        write_day(folder, day)
    args = ["backfill", "--events", folder, "--data-dir", data]
    assert run_cli(*args, "--start", "2024-03-02", "--end", "2024-03-03") == 0
    out = capsys.readouterr().out
    rows = len(day_rows(0)) + len(day_rows(1))  # files never seen before are read whole
    assert "backfilled [2024-03-02 00:00:00, 2024-03-03 00:00:00): files_new 2" in out
    assert f"warehouse_rows {rows:,}" in out
    assert run_cli(*args, "--start", "2024-03-02", "--end", "2024-03-03") == 0  # idempotent
    assert (
        f"files_new 0, files_changed 0, files_skipped 0, rows_ingested {len(day_rows(1)) - 1}"
        in (capsys.readouterr().out)
    )
    assert run_cli(*args, "--start", "2024-03-03", "--end", "2024-03-02") == 2
    assert "must be before end" in capsys.readouterr().err
    (folder / "date=2024-03-02" / "part-0.csv").write_text(HEADER + "\n")  # an empty delivery
    day = ["--start", "2024-03-02", "--end", "2024-03-03"]
    assert run_cli(*args, *day) == 3
    assert "holds no events in [2024-03-02 00:00:00, 2024-03-03 00:00:00)" in (
        capsys.readouterr().err
    )
    assert run_cli(*args, *day, "--allow-empty") == 0
    assert f"warehouse_rows {len(day_rows(0)):,}" in capsys.readouterr().out


def test_a_warehouse_held_by_another_process_fails_with_one_clear_line(tmp_path):
    import subprocess
    import sys

    from recsys.errors import WarehouseBusy
    from recsys.warehouse import open_warehouse

    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', "
            "flush=True); time.sleep(30)",
            str(data / "warehouse.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy, match=r"warehouse.duckdb: held by another process"):
            open_warehouse(data, None, attempts=2)
    finally:
        holder.kill()
        holder.wait()
    assert WarehouseBusy.exit_code == 1
