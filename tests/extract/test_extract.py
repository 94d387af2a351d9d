"""Extraction on planted logs whose right sessions are known."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import duckdb
import pytest

from helpers import T0, events_csv, run_extract, sessions
from recsys.data.synthetic import generate, write
from recsys.errors import DataQualityError, UsageError


def test_gap_ties_duplicates_and_repeats(tmp_path):
    rows = [
        ("u1", "i1", T0),
        ("u1", "i2", T0),  # same second: input order decides
        ("u1", "i2", T0 + 60),  # consecutive repeat: collapsed
        ("u1", "i3", T0 + 120),
        ("u1", "i3", T0 + 120),  # exact duplicate: removed
        ("u1", "i4", T0 + 120 + 1801),  # > 30 min gap: new session
        ("u1", "i5", T0 + 120 + 1861),
        ("u2", "i9", T0),  # single-event session: dropped
    ]
    # A later block of the same shape so the time split has something to hold out.
    rows += [("u3", f"j{i}", T0 + 10**6 + i) for i in range(4)]
    paths, report = run_extract(tmp_path, events_csv(tmp_path / "e.csv", rows), test_fraction=0.3)
    assert sessions(paths, "train") == [["i1", "i2", "i3"], ["i4", "i5"]]
    assert sessions(paths, "test") == [["j0", "j1", "j2", "j3"]]
    assert report.details["dropped_duplicates"] == 1
    assert report.details["collapsed_repeats"] == 1
    assert report.details["dropped_short_sessions"] == 1
    assert report.rows_in == len(rows)


def test_gap_threshold_is_configurable(tmp_path):
    rows = [("u1", "a", T0), ("u1", "b", T0 + 600), ("u1", "c", T0 + 1200)]
    rows += [("u2", f"z{i}", T0 + 10**6 + i) for i in range(2)]
    events = events_csv(tmp_path / "e.csv", rows)
    paths, _ = run_extract(tmp_path, events, test_fraction=0.2)
    assert sessions(paths, "train") == [["a", "b", "c"]]
    paths, _ = run_extract(tmp_path, events, test_fraction=0.2, session_gap_minutes=5)
    assert sessions(paths, "train") == []  # every event alone: all sessions too short


def test_session_id_column_replaces_gaps(tmp_path):
    rows = [("u1", "a", T0, "s1"), ("u1", "b", T0 + 86_400, "s1"), ("u1", "c", T0 + 90_000, "s2")]
    rows += [("u1", "d", T0 + 90_060, "s2")]
    rows += [("u2", f"z{i}", T0 + 10**6 + i, "s9") for i in range(2)]
    events = events_csv(tmp_path / "e.csv", rows, header="user_id,item_id,timestamp,session_id")
    paths, report = run_extract(tmp_path, events, test_fraction=0.2)
    assert sessions(paths, "train") == [["a", "b"], ["c", "d"]]
    assert report.details["session_mode"] == "session_id column"


def test_rows_without_a_session_id_get_gap_sessions(tmp_path):
    """A blank session_id is no session: such rows are cut at the time gap (they were one
    session per user however far apart), apart from the user's given sessions."""
    rows = [("u1", "a", T0, ""), ("u1", "b", T0 + 600, ""), ("u1", "x", T0 + 900, "s1")]
    rows += [("u1", "y", T0 + 1000, "s1"), ("u1", "c", T0 + 86_400, "")]
    rows += [("u1", "d", T0 + 87_000, ""), ("u1", "d", T0 + 87_060, "")]  # a repeat
    rows += [("u2", f"z{i}", T0 + 10**6 + i, "") for i in range(2)]
    events = events_csv(tmp_path / "e.csv", rows, header="user_id,item_id,timestamp,session_id")
    paths, _ = run_extract(tmp_path, events, test_fraction=0.2)
    assert sorted(sessions(paths, "train")) == [["a", "b"], ["c", "d"], ["x", "y"]]


def test_time_split_never_leaks(tmp_path):
    events = write(generate(5_000, 100, seed=3), tmp_path / "e.parquet")
    paths, report = run_extract(tmp_path, events, test_fraction=0.25)
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        last_train, first_test, mixed = con.execute(
            "select (select max(ts) from events where split = 'train'), "
            "(select min(ts) from events where split = 'test'), "
            "(select count(*) from (select session from events group by session "
            " having count(distinct split) > 1))"
        ).fetchone()
    assert last_train < first_test
    assert mixed == 0
    assert 0.15 < report.details["test_events"] / report.rows_out < 0.35


def _corpus_hash(paths):
    return hashlib.sha256(paths.corpus.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["e.csv", "e.csv.gz", "e.jsonl"])
def test_every_format_gives_the_same_corpus(tmp_path, name):
    data = generate(3_000, 80, seed=5)
    reference, _ = run_extract(tmp_path, write(data, tmp_path / "e.parquet"))
    other, _ = run_extract(tmp_path, write(data, tmp_path / name))
    assert _corpus_hash(reference) == _corpus_hash(other)
    assert reference.corpus.stat().st_size > 0


def test_a_json_array_file_reads_like_json_lines(tmp_path):
    # pandas' to_json(orient="records") writes one array; DuckDB's JSON-lines reader took
    # the whole array for one row.
    data = generate(3_000, 80, seed=5)
    reference, _ = run_extract(tmp_path, write(data, tmp_path / "e.jsonl"))
    array = tmp_path / "records.json"
    duckdb.sql(
        f"copy (select * from read_json('{tmp_path / 'e.jsonl'}')) to '{array}' "
        "(format json, array true)"
    )
    assert array.read_text().lstrip().startswith("[")
    other, report = run_extract(tmp_path, array)
    assert report.rows_in == 3_000
    assert _corpus_hash(reference) == _corpus_hash(other)


def test_timestamps_iso_with_zones_and_milliseconds(tmp_path):
    # The same four events written as epoch seconds, epoch milliseconds and zoned ISO text.
    seconds = [("u1", "a", T0), ("u1", "b", T0 + 60), ("u2", "c", T0 + 10**6)]
    seconds += [("u2", "d", T0 + 10**6 + 60)]
    iso = [
        (u, i, datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")) for u, i, t in seconds
    ]
    iso[1] = ("u1", "b", datetime.fromtimestamp(T0 + 60, UTC).astimezone().isoformat())
    millis = [(u, i, t * 1000) for u, i, t in seconds]
    results = []
    for name, rows in [("s.csv", seconds), ("ms.csv", millis), ("iso.csv", iso)]:
        paths, _ = run_extract(tmp_path, events_csv(tmp_path / name, rows), test_fraction=0.3)
        with duckdb.connect(str(paths.stage_db), read_only=True) as con:
            results.append(con.execute("select item_id, ts from events order by ts").fetchall())
    assert results[0] == results[1] == results[2]
    assert results[0][0][1] == datetime.fromtimestamp(T0, UTC).replace(tzinfo=None)


def test_column_mapping_with_hostile_names(tmp_path):
    hostile = 'it"em; drop table events; --'
    rows = [("u1", "a", T0), ("u1", "b", T0 + 60), ("u2", "c", T0 + 10**6)]
    rows += [("u2", "d", T0 + 10**6 + 60)]
    events = events_csv(
        tmp_path / "e.csv", rows, header=f'userId,"{hostile.replace(chr(34), 2 * chr(34))}",ts'
    )
    cfg = {"columns": {"user_id": "userId", "item_id": hostile, "timestamp": "ts"}}
    paths, report = run_extract(tmp_path, events, test_fraction=0.3, **cfg)
    assert sessions(paths, "train") == [["a", "b"]]
    assert report.rows_out == 4


def test_missing_required_column_names_it(tmp_path):
    events = events_csv(tmp_path / "e.csv", [("u1", T0)], header="user_id,timestamp")
    with pytest.raises(DataQualityError, match="missing required column 'item_id'"):
        run_extract(tmp_path, events)
    # A header equal but for case gets the mapping to type.
    events = events_csv(tmp_path / "c.csv", [("u1", "a", T0)], header="User_Id,ITEM_ID,Timestamp")
    with pytest.raises(
        DataQualityError,
        match=r"has 'User_Id', which differs in case: map it "
        r"with --set extract.columns.user_id=User_Id",
    ):
        run_extract(tmp_path, events)


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("item_id", "['g' || (i % 30)]", "VARCHAR[]"),
        ("user_id", "{'a': i % 7}", "STRUCT(a BIGINT)"),
        ("item_id", "map(['k'], [i % 30])", "MAP(VARCHAR, BIGINT)"),
    ],
)
def test_a_nested_id_column_is_refused_not_renamed(tmp_path, column, value, kind):
    # Its text ('[g3]', '{'a': 1}') would be published as ids that match nothing.
    path = tmp_path / "nested.parquet"
    other = "user_id" if column == "item_id" else "item_id"
    duckdb.execute(
        f"copy (select {value} as {column}, 'x' || (i % 9) as {other}, "
        f"timestamp '2020-01-01' + to_seconds(i * 60) as timestamp from range(300) t(i)) "
        f"to '{path}'"
    )
    with pytest.raises(DataQualityError, match=rf"column '{column}' .*holds {re.escape(kind)}"):
        run_extract(tmp_path, path)


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        run_extract(tmp_path, tmp_path / "nope.csv")
    with pytest.raises(UsageError, match="not found"):
        run_extract(tmp_path, tmp_path / "*.parquet")


def test_event_type_filter(tmp_path):
    rows = [("u1", "a", T0, "view"), ("u1", "b", T0 + 5, "bot"), ("u1", "c", T0 + 9, "view")]
    rows += [("u2", f"z{i}", T0 + 10**6 + i, "view") for i in range(2)]
    events = events_csv(tmp_path / "e.csv", rows, header="user_id,item_id,timestamp,event_type")
    paths, report = run_extract(tmp_path, events, test_fraction=0.2, event_types=["view"])
    assert sessions(paths, "train") == [["a", "c"]]
    assert report.details["dropped_event_type"] == 1


def test_interleaved_session_ids_get_dense_positions_and_chunks(tmp_path):
    # Two given sessions of one user interleave in time: each is still numbered 1, 2, ...
    # in time order, and chunking counts only its own events.
    rows = [("u1", "a", T0, "s1"), ("u1", "b", T0 + 10, "s2"), ("u1", "c", T0 + 20, "s1")]
    rows += [("u1", "d", T0 + 30, "s2"), ("u1", "e", T0 + 40, "s1"), ("u1", "f", T0 + 50, "s1")]
    rows += [("u1", "g", T0 + 60, "s1")]
    rows += [("u2", f"z{i}", T0 + 10**6 + i, "s9") for i in range(2)]
    events = events_csv(tmp_path / "e.csv", rows, header="user_id,item_id,timestamp,session_id")
    paths, _ = run_extract(tmp_path, events, test_fraction=0.2, max_session_length=3)
    assert sessions(paths, "train") == [["a", "c", "e"], ["f", "g"], ["b", "d"]]
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        pos = con.execute("select item_id, pos from events where user_id = 'u1' order by 1")
        assert dict(pos.fetchall()) == {"a": 1, "c": 2, "e": 3, "f": 1, "g": 2, "b": 1, "d": 2}


def test_a_float32_time_column_is_read_as_its_number(tmp_path):
    """float32 holds 1700664448 exactly; through its text (7 digits) it was 1700664400."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = [1_700_664_448.0 + 128 * i for i in range(6)]  # float32 steps by 128 here
    table = pa.table(
        {
            "user_id": ["u1"] * 6,
            "item_id": [f"i{i}" for i in range(6)],
            "timestamp": pa.array(stamps, pa.float32()),
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    paths, _ = run_extract(tmp_path, tmp_path / "e.parquet", test_fraction=0.2)
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        got = [r[0] for r in con.execute("select epoch(ts) from events order by ts").fetchall()]
    assert got == stamps
