"""Incremental extract recomputes only the affected users, and still equals a full rebuild.

Planted logs where the affected set is known: which users a new file touches, which items'
rare-item verdict a new event flips, whose row the moving future bound makes usable.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import duckdb

from helpers import AFFECTED_CFG as CFG
from helpers import (
    DAY0,
    NOW,
    assert_equal_to_full,
    base_rows,
    events_csv,
    full_rebuild,
)
from helpers import run_affected as run
from helpers import write_part as write
from recsys.config import ExtractConfig, PipelineConfig
from recsys.layout import RunPaths
from recsys.tasks.extract.backfill import backfill


def recompute(report) -> dict:
    return report.details["incremental"]["recompute"]


def test_only_the_users_of_a_new_file_are_recomputed(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    write(folder, "day=0", base_rows())
    _, first = run(data, folder, incremental=True)
    assert recompute(first)["mode"] == "full"
    assert recompute(first)["reason"] == "no stored results yet"
    # Day 1: u3 continues its evening session past midnight (one session across two files),
    # u7 turns into a bot (30 events in one minute), n1 is new; a repeat of u3's last click.
    t = DAY0 + 3 * 60 + 7200
    day1 = [("u3", "i9", t + 200, "view"), ("u3", "i9", t + 260, "view")]
    day1 += [("u7", f"x{k}", DAY0 + 86_400 + k, "view") for k in range(30)]
    day1 += [("n1", "i1", DAY0 + 86_400 + 100, "view"), ("n1", "i2", DAY0 + 86_400 + 150, "view")]
    write(folder, "day=1", day1)
    paths, second = run(data, folder, incremental=True)
    done = recompute(second)
    assert done["mode"] == "partial" and done["rare_flip_users"] == 0
    assert done["users"] == 3  # u3, u7, n1
    assert done["rows"] == 7 + 2 + 7 + 30 + 2 + 1  # their rows and the row without a user
    assert done["stored_rows"] == second.rows_in - done["rows"]
    full_paths, full = full_rebuild(tmp_path, folder)
    assert_equal_to_full(paths, second, full_paths, full)
    assert full.details["bot_users"] == 1
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        u3 = con.execute(
            "select list(item_id order by pos) from events where user_id = 'u3' "
            "group by session order by min(ts)"
        ).fetchall()
    assert u3[-1] == (["i3", "i4", "i0", "i9"],)  # the midnight session, repeat collapsed

    paths, again = run(data, folder, incremental=True)
    assert recompute(again) | {"stored_rows": 0} == {
        "mode": "partial",
        "reason": "",
        "users": 0,
        "rows": 1,  # only the row without a user, which is never stored
        "rare_flip_users": 0,
        "stored_rows": 0,
        "stored": True,
    }
    assert_equal_to_full(paths, again, full_paths, full)

    # Day 1 re-delivered without u7's burst: u7 is in no new row, but losing rows makes it
    # human again, so its day-0 rows (stored as bot rows) must be recomputed.
    write(folder, "day=1", [r for r in day1 if r[0] != "u7"])
    paths, fixed = run(data, folder, incremental=True)
    assert recompute(fixed)["users"] == 3  # u3 and n1 re-read, u7 marked by its lost rows
    full_paths, full = full_rebuild(tmp_path, folder)
    assert_equal_to_full(paths, fixed, full_paths, full)
    assert full.details["bot_users"] == 0


def test_a_flipped_rare_item_recomputes_every_user_of_it(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    rows = base_rows() + [("a", "z", DAY0 + 10, "view"), ("a", "i1", DAY0 + 40, "view")]
    rows += [("b", "z", DAY0 + 500, "view"), ("b", "i2", DAY0 + 530, "view")]
    write(folder, "day=0", rows)
    run(data, folder, incremental=True, min_item_count=3)
    # c's one event makes z (2 events so far: rare) common: a's and b's z events come back,
    # and with them their sessions; a and b are in no new file.
    write(folder, "day=1", [("c", "z", DAY0 + 90_000, "view"), ("c", "i3", DAY0 + 90_060, "view")])
    paths, report = run(data, folder, incremental=True, min_item_count=3)
    assert recompute(report)["users"] == 3 and recompute(report)["rare_flip_users"] == 2
    full_paths, full = full_rebuild(tmp_path, folder, min_item_count=3)
    assert_equal_to_full(paths, report, full_paths, full)
    assert full.details["dropped_rare_items"] == 0

    # The day-1 file is rewritten without c's z event: z is rare again, for a and b too.
    write(folder, "day=1", [("c", "i3", DAY0 + 90_060, "view"), ("c", "i4", DAY0 + 90_100, "view")])
    paths, report = run(data, folder, incremental=True, min_item_count=3)
    assert recompute(report)["rare_flip_users"] == 2
    full_paths, full = full_rebuild(tmp_path, folder, min_item_count=3)
    assert_equal_to_full(paths, report, full_paths, full)
    assert full.details["dropped_rare_items"] == 2


def test_the_moving_future_bound_recomputes_the_users_it_reaches(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    soon = int((NOW + timedelta(days=2)).timestamp())  # beyond now + 24 h: unusable today
    rows = base_rows() + [("f", "i1", soon, "view"), ("f", "i2", soon + 60, "view")]
    write(folder, "day=0", rows)
    run(data, folder, incremental=True)
    later = NOW + timedelta(days=3)
    paths, report = run(data, folder, now=later, incremental=True)
    assert report.details["incremental"]["rows_ingested"] == 0
    assert recompute(report)["users"] == 1  # f: its rows became usable
    full_paths, full = full_rebuild(tmp_path, folder, now=later)
    assert_equal_to_full(paths, report, full_paths, full)
    assert full.details["dropped_invalid"] == 1  # the row without a user


def test_changed_settings_or_lost_results_recompute_more(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    write(folder, "day=0", base_rows())
    run(data, folder, incremental=True)
    paths, report = run(data, folder, incremental=True, event_types=["view"])
    assert recompute(report)["mode"] == "full"
    assert recompute(report)["reason"] == "extract settings changed since the results were stored"
    full_paths, full = full_rebuild(tmp_path, folder, event_types=["view"])
    assert_equal_to_full(paths, report, full_paths, full)
    assert full.details["dropped_event_type"] == 20 * 3  # the clicks

    # Results lost for one user (a manual delete): that user is recomputed, not trusted.
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        con.execute("update wh_events set result = null where user_id = 'u5'")
    paths, report = run(data, folder, incremental=True, event_types=["view"])
    assert recompute(report)["mode"] == "partial" and recompute(report)["users"] == 1
    assert_equal_to_full(paths, report, full_paths, full)


def test_a_backfill_marks_the_users_whose_rows_it_deletes(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    write(folder, "day=0", base_rows())
    burst = [("u7", f"x{k}", DAY0 + 86_400 + k, "view") for k in range(30)]
    write(folder, "day=1", burst + [("n1", "i1", DAY0 + 86_400 + 100, "view")])
    _, first = run(data, folder, incremental=True)
    assert first.details["bot_users"] == 1
    # Day 1 re-delivered under a new name without u7's burst, then backfilled: u7's day-1
    # rows are deleted by the range, and u7 (human again) is in none of the rows read.
    shutil.rmtree(folder / "day=1")
    write(folder, "day=1b", [("n1", "i1", DAY0 + 86_400 + 100, "view")])
    cfg = PipelineConfig(extract=ExtractConfig(**CFG))
    start, end = datetime(2024, 3, 2), datetime(2024, 3, 3)
    backfill(RunPaths.new(data, str(folder)), cfg, start, end)
    paths, report = run(data, folder, incremental=True)
    assert recompute(report)["mode"] == "partial"
    assert recompute(report)["users"] == 2  # u7 and n1
    full_paths, full = full_rebuild(tmp_path, folder)
    assert_equal_to_full(paths, report, full_paths, full)
    assert full.details["bot_users"] == 0


def test_results_are_not_stored_over_a_warehouse_changed_meanwhile(tmp_path, monkeypatch):
    import recsys.tasks.extract as stage_module

    folder, data = tmp_path / "in", tmp_path / "data"
    write(folder, "day=0", base_rows())
    store = stage_module.store_results

    def rewritten_meanwhile(*args, **kwargs):
        # another process deletes rows and checkpoints: the row ids the export saw move
        with duckdb.connect(str(data / "warehouse.duckdb")) as con:
            con.execute("delete from wh_events where user_id in ('u0', 'u1')")
            con.execute("checkpoint")
        return store(*args, **kwargs)

    monkeypatch.setattr(stage_module, "store_results", rewritten_meanwhile)
    _, first = run(data, folder, incremental=True)
    assert first.details["incremental"]["recompute"]["stored"] is False
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(result) from wh_events").fetchone() == (0,)
    monkeypatch.setattr(stage_module, "store_results", store)
    # the deleted rows come back from the input file only if it is read whole again:
    # rewrite it (a new first row; a row appended at the end would be read alone)
    write(folder, "day=0", [("n2", "i1", DAY0 + 900, "view")] + base_rows())
    paths, report = run(data, folder, incremental=True)
    assert recompute(report)["mode"] == "full" and recompute(report)["stored"] is True
    full_paths, full = full_rebuild(tmp_path, folder)
    assert_equal_to_full(paths, report, full_paths, full)


def test_a_warehouse_from_before_stored_results_is_upgraded(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    write(folder, "day=0", base_rows())
    run(data, folder, incremental=True)
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:  # the previous layout
        con.execute("alter table wh_events drop column result")
        for table in ("wh_results_state", "wh_item_counts", "wh_dirty", "wh_schema"):
            con.execute(f"drop table {table}")
    write(
        folder, "day=1", [("n1", "i1", DAY0 + 86_400, "view"), ("n1", "i2", DAY0 + 86_460, "view")]
    )
    paths, report = run(data, folder, incremental=True)
    assert recompute(report)["mode"] == "full" and recompute(report)["stored"] is True
    full_paths, full = full_rebuild(tmp_path, folder)
    assert_equal_to_full(paths, report, full_paths, full)
    paths, again = run(data, folder, incremental=True)
    assert recompute(again)["mode"] == "partial" and recompute(again)["users"] == 0


def test_an_appended_log_is_read_from_its_last_row_on(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    folder.mkdir()
    log = folder / "events.csv"
    # The writer was mid-line when the first run read the log: the last row's time is cut
    # short ("17092" reads as 1970: unusable); the append completes it.
    rows = [r[:3] for r in base_rows()]
    text = "user_id,item_id,timestamp\n" + "".join(f"{u},{i},{t}\n" for u, i, t in rows)
    log.write_text(text + f"w1,i3,{str(DAY0 + 40_000)[:5]}")
    _, first = run(data, folder, incremental=True)
    assert first.details["dropped_invalid"] == 2  # the row without a user and w1's
    more = [("w1", "i4", DAY0 + 40_100), ("n1", "i1", DAY0 + 50_000), ("n1", "i2", DAY0 + 50_060)]
    with open(log, "a") as handle:
        handle.write(str(DAY0 + 40_000)[5:] + "\n" + "".join(f"{u},{i},{t}\n" for u, i, t in more))
    paths, report = run(data, folder, incremental=True)
    ingested = report.details["incremental"]
    assert (ingested["files_appended"], ingested["files_changed"]) == (1, 0)
    assert ingested["rows_ingested"] == 1 + len(more)  # w1's completed row and the new ones
    assert recompute(report)["users"] == 2  # w1 and n1: the other 20 keep their results
    full_paths, full = full_rebuild(tmp_path, folder)
    assert_equal_to_full(paths, report, full_paths, full)
    assert full.details["dropped_invalid"] == 1
    again_paths, again = run(data, folder, incremental=True)
    assert again.details["incremental"]["files_skipped"] == 1
    assert_equal_to_full(again_paths, again, full_paths, full)


def test_the_stage_artifact_spreads_the_recompute_details_into_rows(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    write(folder, "day=0", base_rows())
    run(data, folder, incremental=True)
    _, report = run(data, folder, incremental=True)
    table = report.markdown()
    assert "| incremental.recompute.mode | partial |" in table
    assert "| incremental.files_skipped | 1 |" in table
    histogram = report.details["session_length_histogram"]
    assert f"| session_length_histogram | {histogram} |" in table  # one row, as before


def test_sessions_from_a_session_id_column_are_recomputed_per_user(tmp_path):
    folder, data = tmp_path / "in", tmp_path / "data"
    header = "user_id,item_id,timestamp,session_id"
    rows = [
        (f"u{u}", f"i{(u + k) % 6}", DAY0 + u * 60 + 10 * k, f"s{u}-{k // 3}")
        for u in range(8)
        for k in range(6)
    ]
    (folder / "day=0").mkdir(parents=True)
    events_csv(folder / "day=0" / "part-0.csv", rows, header=header)
    run(data, folder, incremental=True)
    # u2's session s2-1 continues in the next file, hours later (one given session, not a gap
    # session); u9 is new.
    later = [("u2", "i5", DAY0 + 30_000, "s2-1"), ("u9", "i1", DAY0 + 30_000, "s9-0")]
    later += [("u9", "i2", DAY0 + 30_050, "s9-0")]
    (folder / "day=1").mkdir()
    events_csv(folder / "day=1" / "part-0.csv", later, header=header)
    paths, report = run(data, folder, incremental=True)
    assert report.details["session_mode"] == "session_id column"
    assert recompute(report)["mode"] == "partial" and recompute(report)["users"] == 2
    full_paths, full = full_rebuild(tmp_path, folder)
    assert_equal_to_full(paths, report, full_paths, full)
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        joined = con.execute(
            "select list(item_id order by seq) from sessionized_events "
            "where user_id = 'u2' and session_key = 's2-1'"
        ).fetchall()
    assert joined == [(["i5", "i0", "i1", "i5"],)]  # s2-1's three events on day 0 and the late one
