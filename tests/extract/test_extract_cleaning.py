"""Cleaning rules, the three-way time split and event-type weights on planted logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import duckdb
import pytest

from helpers import T0, events_csv, run_extract, sessions
from recsys.config import ExtractConfig

HEADER = "user_id,item_id,timestamp,event_type"


def test_near_duplicates_within_window(tmp_path):
    rows = [
        ("u1", "a", T0, "view"),
        ("u1", "a", T0 + 4, "view"),  # 4 s later: near duplicate when the window is >= 4 s
        ("u1", "a", T0 + 5, "cart"),  # another type: a real action, kept
        ("u1", "b", T0 + 30, "view"),
        ("u1", "a", T0 + 60, "view"),  # 60 s after the last (u1, a, view): kept
    ]
    rows += [("u2", f"z{i}", T0 + 10**6 + i, "view") for i in range(2)]
    events = events_csv(tmp_path / "e.csv", rows, header=HEADER)
    kwargs = {"test_fraction": 0.2, "collapse_repeats": False}
    paths, report = run_extract(tmp_path, events, duplicate_window_seconds=10, **kwargs)
    assert sessions(paths, "train") == [["a", "a", "b", "a"]]
    assert report.details["dropped_duplicates"] == 1
    paths, report = run_extract(tmp_path, events, **kwargs)  # default: exact duplicates only
    assert report.details["dropped_duplicates"] == 0
    assert sessions(paths, "train") == [["a", "a", "a", "b", "a"]]


def _bots_and_humans() -> list[tuple]:
    rows = [("human", f"h{i}", T0 + 60 * i, "view") for i in range(6)]
    # 40 events in one minute: a crawler.
    rows += [("crawler", f"c{i % 7}", T0 + i, "view") for i in range(40)]
    # Slow but endless: 30 events a minute apart.
    rows += [("scraper", f"s{i}", T0 + 60 * i, "view") for i in range(30)]
    rows += [("late", f"z{i}", T0 + 10**6 + i, "view") for i in range(3)]
    return rows


def test_bot_users_by_rate_and_volume(tmp_path):
    rows = _bots_and_humans()
    events = events_csv(tmp_path / "e.csv", rows, header=HEADER)
    paths, report = run_extract(
        tmp_path, events, test_fraction=0.05, max_events_per_minute=20, max_user_events=25
    )
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        users = {r[0] for r in con.execute("select distinct user_id from events").fetchall()}
    assert users == {"human", "late"}
    assert report.details["bot_users"] == 2
    assert report.details["dropped_bot_events"] == 70
    paths, report = run_extract(tmp_path, events, test_fraction=0.05, max_events_per_minute=20)
    assert report.details["bot_users"] == 1  # the scraper stays under the rate limit
    assert report.details["dropped_bot_events"] == 40


def test_min_item_count_then_min_user_events(tmp_path):
    rows = [("u1", "pop", T0, "view"), ("u1", "rare", T0 + 10, "view"), ("u1", "pop2", T0 + 20)]
    rows += [("u2", "pop", T0 + 100, "view"), ("u2", "pop2", T0 + 110, "view")]
    rows += [("u3", "rare2", T0 + 200, "view"), ("u3", "pop", T0 + 210, "view")]
    rows += [("u4", "pop", T0 + 10**6, "view"), ("u4", "pop2", T0 + 10**6 + 5, "view")]
    rows = [r if len(r) == 4 else (*r, "view") for r in rows]
    events = events_csv(tmp_path / "e.csv", rows, header=HEADER)
    paths, report = run_extract(
        tmp_path, events, test_fraction=0.2, min_item_count=2, min_user_events=2
    )
    # rare and rare2 go first; u3 is then left with one event and goes too.
    assert report.details["dropped_rare_items"] == 2
    assert report.details["dropped_sparse_users"] == 1
    assert sessions(paths, "train") == [["pop", "pop2"], ["pop", "pop2"]]


def _two_users_timeline() -> list[tuple]:
    # 10 sessions of 4 events, one a day, alternating users; items say their day.
    return [
        (f"u{d % 2}", f"d{d}-{k}", T0 + d * 86_400 + 60 * k, "view")
        for d in range(10)
        for k in range(4)
    ]


def test_three_way_split_by_fraction_has_no_leakage(tmp_path):
    events = events_csv(tmp_path / "e.csv", _two_users_timeline(), header=HEADER)
    # quantile_disc picks the ceil(n*q)-th value: with 40 events the cuts land on d6-0, d8-0.
    paths, report = run_extract(tmp_path, events, test_fraction=0.19, validation_fraction=0.2)
    d = report.details
    assert (d["train_events"], d["validation_events"], d["test_events"]) == (24, 8, 8)
    assert (d["train_sessions"], d["validation_sessions"], d["test_sessions"]) == (6, 2, 2)
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        spans = dict(
            con.execute("select split, [min(ts), max(ts)] from events group by split").fetchall()
        )
    assert spans["train"][1] < spans["validation"][0] <= spans["validation"][1] < spans["test"][0]
    # Every item of later days is new: counted, not dropped.
    assert d["validation_unseen_items"] == 8 and d["test_unseen_items"] == 8
    assert d["test_unseen_events"] == 8
    # The corpus holds training sessions only.
    assert len(paths.corpus.read_text().splitlines()) == 6


def test_split_by_dates_cuts_a_session_in_two(tmp_path):
    events = events_csv(tmp_path / "e.csv", _two_users_timeline(), header=HEADER)
    day0 = datetime.fromtimestamp(T0, UTC)
    # Tz-aware cuts are read as UTC: test from day 8 + 2 min (its third event), validation
    # from day 7.
    test_start = (day0 + timedelta(days=8, minutes=2)).astimezone(timezone(timedelta(hours=5)))
    paths, report = run_extract(
        tmp_path, events, test_start=test_start, validation_start=day0 + timedelta(days=7)
    )
    # Day 8's session is split at its third event: d8-0, d8-1 validate, d8-2, d8-3 test.
    assert sorted(sessions(paths, "validation")) == [
        ["d7-0", "d7-1", "d7-2", "d7-3"],
        ["d8-0", "d8-1"],
    ]
    assert sorted(sessions(paths, "test")) == [["d8-2", "d8-3"], ["d9-0", "d9-1", "d9-2", "d9-3"]]
    assert report.details["train_sessions"] == 7


def test_split_dates_must_be_ordered():
    with pytest.raises(ValueError, match="before test_start"):
        ExtractConfig(test_start=datetime(2024, 1, 1), validation_start=datetime(2024, 2, 1))
    with pytest.raises(ValueError, match="needs test_start"):
        ExtractConfig(validation_start=datetime(2024, 2, 1))


def test_event_type_weights_repeat_converting_sessions(tmp_path):
    rows = [("u1", "a", T0, "view"), ("u1", "b", T0 + 10, "purchase")]
    rows += [("u2", "c", T0 + 20, "view"), ("u2", "d", T0 + 30, "view")]
    rows += [("u3", f"z{i}", T0 + 10**6 + i, "view") for i in range(2)]
    events = events_csv(tmp_path / "e.csv", rows, header=HEADER)
    paths, _ = run_extract(tmp_path, events, test_fraction=0.2, event_type_weights={"purchase": 3})
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        token = dict(con.execute("select item_id, token from items").fetchall())
        counts = dict(con.execute("select item_id, train_count from items").fetchall())
    a, b, c, d = (str(token[i]) for i in "abcd")
    assert paths.corpus.read_text().splitlines() == [f"{a} {b}"] * 3 + [f"{c} {d}"]
    assert counts == {"a": 3, "b": 3, "c": 1, "d": 1}  # what gensim's vocabulary will see


def test_a_weight_for_an_event_type_the_input_lacks_is_named(tmp_path, caplog):
    rows = [("u1", "a", T0, "view"), ("u1", "b", T0 + 10, "purchase")]
    rows += [("u2", f"z{i}", T0 + 10**6 + i, "view") for i in range(2)]
    events = events_csv(tmp_path / "e.csv", rows, header=HEADER)
    weights = {"purchase": 3, "purchse": 2, "cart": 2}
    with caplog.at_level(logging.WARNING, logger="recsys"):
        run_extract(tmp_path, events, test_fraction=0.2, event_type_weights=weights)
    named = [r.getMessage() for r in caplog.records if "event_type_weights" in r.getMessage()]
    assert len(named) == 1 and "'cart', 'purchse'" in named[0], named
    assert "'purchase'" not in named[0]


def test_late_arriving_events_are_sessionized_by_time(tmp_path):
    rows = [("u1", "a", T0, "view"), ("u1", "c", T0 + 120, "view")]
    rows += [("u1", "x", T0 + 7_200, "view"), ("u1", "y", T0 + 7_260, "view")]
    rows += [("u2", f"z{i}", T0 + 10**6 + i, "view") for i in range(2)]
    # Delivered late, at the end of the file: b belongs between a and c, and w ties with x
    # (same second) so input order puts it after x.
    rows += [("u1", "b", T0 + 60, "view"), ("u1", "w", T0 + 7_200, "view")]
    events = events_csv(tmp_path / "e.csv", rows, header=HEADER)
    paths, _ = run_extract(tmp_path, events, test_fraction=0.2)
    assert sessions(paths, "train") == [["a", "b", "c"], ["x", "w", "y"]]


def test_exact_duplicates_same_key_and_time_after_typing(tmp_path):
    # The default (duplicate_window_seconds = 0) finds exact duplicates by a hash aggregate
    # instead of the window: the verdicts must be the window's, row by row, for usable and
    # unusable rows, after typing (ids as given, the same instant written as ISO text).
    iso = datetime.fromtimestamp(T0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    planted = [
        (("u1", "a", T0, "view"), False),
        (("u1", "a", T0, "cart"), False),  # another event type
        (("u1", "b", T0, "view"), False),  # another item
        (("u1", "a", T0, "view"), True),
        (("u1", " a ", T0, "view"), False),  # another id: ids are never trimmed
        (("u1", "a", f"{T0}.5", "view"), False),  # half a second later
        (("u1", "a", iso, "view"), True),  # the same instant as text
        (("u2", "a", T0, "view"), False),  # another user
        (("", "a", T0, "view"), False),  # unusable rows: a key of their own
        (("", "a", T0, "view"), True),
        (("u3", "x", "yesterday", "view"), False),  # no time: never a duplicate
        (("u3", "x", "yesterday", "view"), False),
        (("u1", "a", T0, ""), False),  # no event type
        (("u1", "a", T0, ""), True),
    ]
    rows = [row for row, _ in planted] + [("u9", f"z{i}", T0 + 10**6 + i, "view") for i in range(4)]
    paths, report = run_extract(tmp_path, events_csv(tmp_path / "e.csv", rows, header=HEADER))
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        flags = con.execute(
            "select is_duplicate from typed_events where input_order <= $n order by input_order",
            {"n": len(planted)},
        ).fetchall()
    assert [f for (f,) in flags] == [dup for _, dup in planted]
    assert report.details["dropped_duplicates"] == 3  # the usable ones
