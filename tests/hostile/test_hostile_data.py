"""The hostile catalogue's data cases at stage level (extract, then quality), on tiny files:
accepted inputs keep every id exactly as written, across CSV, Parquet and JSON lines;
refused ones stop in one line naming the file, column or rule, with the contract's code."""

from __future__ import annotations

import gzip
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys.config import PipelineConfig
from recsys.errors import RecsysError
from recsys.layout import RunPaths
from recsys.tasks.extract import extract
from recsys.tasks.quality import quality

T0 = 1_700_000_000
NOW_RUN = dict(now=None)

# ids written as they must come out: numbers, floats, unicode, padded, huge, quoted
IDS = ["7", "007", "7.0", "7.5", " padded", "padded", "padded ", "été", "東京", "🙂", "a,b"]
IDS += ['say "hi"', "1" * 100, "-3", "1e5", "Ω≈ç√", "nan", "NaN", "Infinity", "-inf"]


def _rows(ids: list[str]) -> list[tuple[str, str, int]]:
    """Each id as an item of two users, plus filler so quality has enough to pass."""
    rows = [(f"u{u}", i, T0 + 60 * (k * 2 + u)) for k, i in enumerate(ids) for u in range(2)]
    rows += [
        (f"f{u}", f"x{(u + j) % 30}", T0 + 86_400 + u * 600 + j * 60)
        for u in range(30)
        for j in range(8)
    ]
    return rows


def _csv_cell(v: object) -> str:
    text = str(v)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n ') else text


def write_csv(path, rows, header="user_id,item_id,timestamp", newline="\n", bom=False):
    body = newline.join([header] + [",".join(_csv_cell(v) for v in r) for r in rows]) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode())
    return path


def write_jsonl(path, rows, raw_items=None):
    lines = []
    for n, (u, i, t) in enumerate(rows):
        item = raw_items[n] if raw_items and n < len(raw_items) else json.dumps(i)
        lines.append(f'{{"user_id": {json.dumps(u)}, "item_id": {item}, "timestamp": {t}}}')
    path.write_text("\n".join(lines) + "\n")
    return path


def _jsonl_extra_nested(d: Path) -> Path:
    """Objects in a column the run does not read are no concern of it."""
    path = write_jsonl(d / "e.jsonl", _rows(IDS))
    lines = path.read_text().splitlines()
    path.write_text("".join(line[:-1] + ', "props": {"tags": [1, 2]}}\n' for line in lines))
    return path


def write_parquet(path, rows, item_type=pa.string()):
    items = [r[1] for r in rows]
    if item_type != pa.string():  # the filler items x0..x29 become 1000..1029
        number = float if pa.types.is_floating(item_type) else int
        items = [number(i[1:]) + 1000 if i.startswith("x") else number(i) for i in items]
    table = pa.table(
        {
            "user_id": [r[0] for r in rows],
            "item_id": pa.array(items, item_type),
            "timestamp": [r[2] for r in rows],
        }
    )
    pq.write_table(table, path)
    return path


def _json_array(d: Path) -> Path:
    rows = [{"user_id": u, "item_id": i, "timestamp": t} for u, i, t in _rows(IDS)]
    (d / "e.json").write_text(json.dumps(rows, indent=1))
    return d / "e.json"


def extract_ids(tmp_path, events, **extract_cfg) -> set[str]:
    cfg = PipelineConfig.model_validate({"extract": extract_cfg})
    paths = RunPaths.new(tmp_path / "data", str(events))
    extract(paths, cfg)
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        return {i for (i,) in con.execute("select distinct item_id from typed_events").fetchall()}


def _gzipped(d):
    (d / "e.csv.gz").write_bytes(gzip.compress(write_csv(d / "x", _rows(IDS)).read_bytes()))
    return d / "e.csv.gz"


def _spark_folder(d):
    folder = d / "spark"
    folder.mkdir()
    write_parquet(folder / "part-00000-abc.snappy.parquet", _rows(IDS))
    for marker in (
        "_SUCCESS",
        "_committed_123",
        "_started_123",
        ".part-00000-abc.snappy.parquet.crc",
    ):
        (folder / marker).write_bytes(b"\x00\x01")
    return folder


def _binary_ids(d):
    """Parquet BINARY without the UTF-8 annotation (some Spark/Hive writers): the ids' text,
    not '\\xC3\\xA9' escapes."""
    rows = _rows(IDS)
    table = pa.table(
        {
            "user_id": [r[0] for r in rows],
            "item_id": pa.array([r[1].encode() for r in rows], pa.binary()),
            "timestamp": [r[2] for r in rows],
        }
    )
    pq.write_table(table, d / "e.parquet")
    return d / "e.parquet"


def _ints_and_floats(d):
    """Two files of one input: pandas writes an int id column with a missing value as floats."""
    rows = _rows(["7", "8"])
    write_parquet(d / "a.parquet", rows[: len(rows) // 2], pa.int64())
    write_parquet(d / "b.parquet", rows[len(rows) // 2 :], pa.float64())
    return str(d / "*.parquet")


def _bool_users(d):
    """A Parquet user column of booleans: read as text, every user became 'true' or 'false'."""
    rows = _rows(["a", "b"])
    table = pa.table(
        {
            "user_id": pa.array([n % 2 == 1 for n in range(len(rows))]),
            "item_id": [r[1] for r in rows],
            "timestamp": [r[2] for r in rows],
        }
    )
    pq.write_table(table, d / "e.parquet")
    return d / "e.parquet"


def _times_as_seconds_and_timestamps(d):
    """Two Parquet files of one input, one storing times as Unix seconds, the other as
    TIMESTAMP WITH TIME ZONE: DuckDB cannot read them as one column."""
    rows = _rows(["a", "b"])
    half = len(rows) // 2
    for name, part, kind in (("a", rows[:half], pa.int64()), ("b", rows[half:], None)):
        times = [r[2] for r in part]
        column = (
            pa.array(times, kind)
            if kind
            else pa.array([datetime.fromtimestamp(t, UTC) for t in times], pa.timestamp("s", "UTC"))
        )
        table = pa.table(
            {"user_id": [r[0] for r in part], "item_id": [r[1] for r in part], "timestamp": column}
        )
        pq.write_table(table, d / f"{name}.parquet")
    return str(d / "*.parquet")


def _empty_file_in_glob(d):
    write_csv(d / "a.csv", _rows(["a", "b"]))
    (d / "b.csv").write_bytes(b"")
    return str(d / "*.csv")


def _brackets(d):
    return write_csv(d / "events [2024] (copy) *?.csv", _rows(IDS))


def _symlink_cycle(d):
    (d / "tree" / "a").mkdir(parents=True)
    write_csv(d / "tree" / "a" / "e.csv", _rows(IDS))
    (d / "tree" / "a" / "loop").symlink_to(d / "tree")
    return str(d / "tree" / "**" / "*.csv")


ACCEPTED = {
    "csv ids as written": (lambda d: write_csv(d / "e.csv", _rows(IDS)), set(IDS)),
    "csv CRLF": (lambda d: write_csv(d / "e.csv", _rows(IDS), newline="\r\n"), set(IDS)),
    "csv with a BOM": (lambda d: write_csv(d / "e.csv", _rows(IDS), bom=True), set(IDS)),
    "csv gzip": (_gzipped, set(IDS)),
    "jsonl strings": (lambda d: write_jsonl(d / "e.jsonl", _rows(IDS)), set(IDS)),
    "jsonl with a nested extra column": (_jsonl_extra_nested, set(IDS)),
    "jsonl numbers mixed with strings": (
        lambda d: write_jsonl(
            d / "e.jsonl", _rows(["7", "g7-i39", "8"]), ["7", "7", '"g7-i39"', '"g7-i39"', "8", "8"]
        ),
        {"7", "g7-i39", "8"},
    ),
    "jsonl huge integer": (
        lambda d: write_jsonl(d / "e.jsonl", _rows(["1" * 30]), ["1" * 30, "1" * 30]),
        {"1" * 30},
    ),
    "parquet strings": (lambda d: write_parquet(d / "e.parquet", _rows(IDS)), set(IDS)),
    "parquet int64 ids": (
        lambda d: write_parquet(d / "e.parquet", _rows(["7", "8", "-3"]), pa.int64()),
        {"7", "8", "-3"},
    ),
    "parquet float ids": (
        lambda d: write_parquet(d / "e.parquet", _rows(["7.5", "8.25"]), pa.float64()),
        {"7.5", "8.25"},
    ),
    "parquet reserved column names": (
        lambda d: (
            pq.write_table(
                pq.read_table(write_parquet(d / "x.parquet", _rows(IDS)))
                .append_column("source_file_index", pa.array([9] * len(_rows(IDS))))
                .append_column("file_row_number", pa.array([5] * len(_rows(IDS)))),
                d / "e.parquet",
            )
            or d / "e.parquet"
        ),
        set(IDS),
    ),
    "parquet BINARY ids": (_binary_ids, set(IDS)),
    "json array of objects (pandas records)": (_json_array, set(IDS)),
    "spark output folder": (_spark_folder, set(IDS)),
    "file name with [ ] * ?": (_brackets, set(IDS)),
    "** glob over a symlink cycle": (_symlink_cycle, set(IDS)),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_inputs_keep_every_id_as_given(tmp_path, name):
    build, expected = ACCEPTED[name]
    ids = extract_ids(tmp_path, build(tmp_path))
    assert expected <= ids
    filler = {f"x{k}" for k in range(30)} | {str(1000 + k) for k in range(30)}
    assert ids - expected <= filler | {f"{1000 + k}.0" for k in range(30)}


def test_ids_that_spell_special_values_pass_quality(tmp_path):
    """'nan', 'Infinity', 'NULL' in a text column are ids (NaN in a float column is not);
    an id as long as the server answers passes too."""
    ids = ["nan", "NaN", "Infinity", "-inf", "NULL", "true", "L" * 1024]
    cfg = PipelineConfig.model_validate({"quality": {"data_docs": False}})
    paths = RunPaths.new(tmp_path / "data", str(write_csv(tmp_path / "e.csv", _rows(ids))))
    extract(paths, cfg)
    assert quality(paths, cfg).details["failed"] == 0
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        kept = {i for (i,) in con.execute("select distinct item_id from events").fetchall()}
    assert set(ids) <= kept


def test_a_delimiter_of_two_characters(tmp_path):
    # DuckDB takes up to four; the header is also split in Python, whose csv takes one.
    text = write_csv(tmp_path / "x.csv", _rows(["a", "b"])).read_text().replace(",", "::")
    (tmp_path / "e.csv").write_text(text)
    assert {"a", "b"} <= extract_ids(tmp_path, tmp_path / "e.csv", csv_delimiter="::")


def test_a_symlink_cycle_reads_each_file_once(tmp_path):
    events = _symlink_cycle(tmp_path)
    cfg = PipelineConfig()
    paths = RunPaths.new(tmp_path / "data", events)
    report = extract(paths, cfg)
    assert report.rows_in == len(_rows(IDS))


def _timestamps(values: list) -> callable:
    def build(d):
        rows = _rows(["a", "b"])
        rows[0] = (rows[0][0], rows[0][1], values[0])
        return write_csv(d / "e.csv", rows)

    return build


def _ts_rows(value) -> callable:
    return lambda d: write_csv(
        d / "e.csv", [(u, i, value if k == 0 else t) for k, (u, i, t) in enumerate(_rows(["a"]))]
    )


def _epochs(scale: int) -> callable:
    return lambda d: write_csv(d / "e.csv", [(u, i, t * scale) for u, i, t in _rows(["a", "b"])])


def _bytes(name: str, data: bytes) -> callable:
    def build(d):
        (d / name).write_bytes(data)
        return d / name

    return build


TIMES_OK = {
    "epoch ms": _epochs(1000),
    "epoch us": _epochs(1_000_000),
    "epoch ns": _epochs(1_000_000_000),
    "ISO with Z": _ts_rows("2023-11-14T22:13:20Z"),
    "ISO with offset": _ts_rows("2023-11-14T23:13:20+01:00"),
    "ISO with micros": _ts_rows("2023-11-14 22:13:20.123456"),
    "date only": _ts_rows("2023-11-14"),
    "epoch float": _ts_rows("1700000000.25"),
}


def _formatted(fmt: str) -> callable:
    return lambda d: write_csv(
        d / "e.csv",
        [(u, i, datetime.fromtimestamp(t, UTC).strftime(fmt)) for u, i, t in _rows(["a", "b"])],
    )


@pytest.mark.parametrize(
    "fmt", ["%d-%m-%Y %H:%M:%S", "%Y%m%dT%H%M%S", "%Y%m%d%H%M%S", "%m/%d/%Y %I:%M:%S %p"]
)
def test_timestamps_in_a_configured_format(tmp_path, fmt):
    # Kaggle Groceries writes 21-07-2015; ISO basic (20231114T221320) and digits-only times
    # would otherwise be epochs or unparseable. Each reads as the same instants.
    expected = sorted(t for _, _, t in _rows(["a", "b"]))
    cfg = PipelineConfig.model_validate(
        {"quality": {"data_docs": False}, "extract": {"timestamp_format": fmt}}
    )
    paths = RunPaths.new(tmp_path / "data", str(_formatted(fmt)(tmp_path)))
    extract(paths, cfg)
    assert quality(paths, cfg).details["failed"] == 0
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        got = [
            t for (t,) in con.execute("select epoch(ts) from typed_events order by ts").fetchall()
        ]
    assert got == expected


@pytest.mark.parametrize("name", sorted(TIMES_OK))
def test_accepted_timestamps(tmp_path, name):
    cfg = PipelineConfig.model_validate({"quality": {"data_docs": False}})
    paths = RunPaths.new(tmp_path / "data", str(TIMES_OK[name](tmp_path)))
    extract(paths, cfg)
    assert quality(paths, cfg).details["failed"] == 0


def _csv_with(before: int, bad: str, after: int) -> bytes:
    """A CSV file whose line before + 2 is `bad` (the header is line 1)."""
    rows = [f"u{i % 7},i{i % 11},{1_700_000_000 + 60 * i}" for i in range(before + after)]
    return "\n".join(["user_id,item_id,timestamp", *rows[:before], bad, *rows[before:]]).encode()


REFUSED = {
    # DuckDB read b.csv's rows with no item_id: the run failed on null_ids, naming neither.
    "a glob whose second file has another delimiter": (
        lambda d: (
            write_csv(d / "a.csv", _rows(["a", "b"])),
            (d / "b.csv").write_text(
                write_csv(d / "x", _rows(["c"])).read_text().replace(",", ";")
            ),
            str(d / "?.csv"),
        )[-1],
        3,
        r"b\.csv lacks column\(s\) 'user_id', 'item_id', 'timestamp' that .*a\.csv has, read "
        r"with its delimiter ','",
    ),
    "jsonl object naming item_id twice": (
        lambda d: (
            (d / "e.jsonl").write_text(
                '{"user_id": "u1", "item_id": "a", "item_id": "SECRETHASH", "timestamp": 1}\n'
            )
            and d / "e.jsonl"
        ),
        3,
        r"e\.jsonl: cannot be read as json: line 1 names the same key 'item_id' twice in one "
        r"object",
    ),
    "parquet ids as integers in one file, floats in another": (
        _ints_and_floats,
        3,
        r"column 'item_id' holds integers in .*a\.parquet and floats in .*b\.parquet; read "
        r"together every id would become a float",
    ),
    "parquet user ids as booleans": (
        _bool_users,
        3,
        r"e\.parquet: column 'user_id' \(for user_id\) holds BOOLEAN values, not ids",
    ),
    "parquet times as seconds in one file, TIMESTAMP in another": (
        _times_as_seconds_and_timestamps,
        3,
        r"column 'timestamp' is stored as BIGINT in .*a\.parquet and as TIMESTAMP WITH TIME "
        r"ZONE in another file",
    ),
    "an empty file in a csv glob": (_empty_file_in_glob, 3, r"b\.csv is empty"),
    # No connection (or no httpfs extension to fetch it with) is not the data's fault:
    # exit 1 and a reason about the connection, not "cannot be read as csv".
    "a URL that cannot be fetched": (
        lambda d: "https://127.0.0.1:1/e.csv",
        1,
        r"https://127\.0\.0\.1:1/e\.csv: cannot be fetched: (DuckDB's httpfs|the connection)",
    ),
    "parquet BINARY ids that are not UTF-8": (
        lambda d: (
            pq.write_table(
                pa.table(
                    {
                        "user_id": ["u1", "u1", "u2"],
                        "item_id": pa.array([b"\xff\xfe", b"a", b"b"], pa.binary()),
                        "timestamp": [1_700_000_000, 1_700_000_060, 1_700_000_000],
                    }
                ),
                d / "e.parquet",
            )
            or d / "e.parquet"
        ),
        3,
        r"e\.parquet.*(UTF-?8|utf-?8)",
    ),
    # DuckDB parses such a number into a double: 7.50 came back as '7.5', and 1e3 and 1E3
    # as one id '1000.0' (two items merged). Ids are strings or integers (the contract).
    "jsonl ids as fractional numbers": (
        lambda d: write_jsonl(d / "e.jsonl", _rows(["7", "a", "b"]), ["7", "7", "1e3", "1E3"]),
        3,
        r"e\.jsonl: column 'item_id' holds 2 ids written as JSON numbers with a fraction or "
        r"an exponent.*write ids as JSON strings or integers",
    ),
    "jsonl user id 7.50": (
        lambda d: (
            (d / "e.jsonl").write_text(
                '{"user_id": 7.50, "item_id": "a", "timestamp": 1700000000}\n'
                '{"user_id": 7.50, "item_id": "b", "timestamp": 1700000060}\n'
            )
            and d / "e.jsonl"
        ),
        3,
        r"column 'user_id' holds 2 ids written as JSON numbers",
    ),
    "negative epoch": (_ts_rows(-86_400), 3, r"no_ancient.*lower extract\.min_year to keep them"),
    "year 9999": (
        _ts_rows("9999-01-01T00:00:00"),
        3,
        r"no_future.*raise extract\.future_tolerance_hours to keep them; with "
        r"quality\.severity\.no_future=warn those rows are dropped",
    ),
    # Published, it could not be asked for over HTTP (the server's id bound).
    "an item id of 1,025 characters": (
        lambda d: write_csv(d / "e.csv", _rows(["a", "L" * 1025])),
        3,
        r"raw_events\.long_ids: no user_id or item_id longer than 1,024 characters .*"
        r"\(observed 2; shorten or hash",
    ),
    "NaN time": (_ts_rows("NaN"), 3, r"timestamp_parse|does not parse"),
    "-inf time": (_ts_rows("-inf"), 3, r"does not parse|timestamp_parse"),
    "garbage time": (_ts_rows("next tuesday"), 3, r"timestamp_parse"),
    "UTF-16 file": (
        _bytes("e.csv", "user_id,item_id,timestamp\nu1,i1,1700000000\n".encode("utf-16")),
        3,
        r"e\.csv: cannot be read as csv",
    ),
    "latin-1 ids": (
        _bytes("e.csv", b"user_id,item_id,timestamp\nu1,caf\xe9,1700000000\n"),
        3,
        r"not utf-8 encoded",
    ),
    "NUL bytes": (
        _bytes("e.csv", b"user_id,item_id,timestamp\nu1,i\x001,1700000000\n" * 3),
        3,
        r"e\.csv|timestamp_parse",
    ),
    "only whitespace": (_bytes("e.csv", b"   \n\n  \n"), 3, r"e\.csv"),
    "header only": (_bytes("e.csv", b"user_id,item_id,timestamp\n"), 3, r"at least one data row"),
    "empty jsonl": (_bytes("e.jsonl", b""), 3, r"e\.jsonl: the file holds no JSON objects"),
    "jsonl item id an array": (
        lambda d: write_jsonl(d / "e.jsonl", _rows(["a", "b"]), ['"a"', '["a", "x"]']),
        3,
        r"e\.jsonl: column 'item_id' holds a JSON array or object in 1 rows",
    ),
    "malformed json line": (
        _bytes(
            "e.jsonl",
            b'{"user_id": "u1", "item_id": "i1", "timestamp": 1700000000}\n{"user_id": \n',
        ),
        3,
        r"e\.jsonl: cannot be read as json",
    ),
    "truncated parquet": (
        lambda d: _bytes(
            "e.parquet", write_parquet(d / "x.parquet", _rows(IDS)).read_bytes()[:200]
        )(d),
        3,
        r"e\.parquet: cannot be read as parquet",
    ),
    "csv named .parquet": (_bytes("e.parquet", b"user_id,item_id,timestamp\n"), 3, r"as parquet"),
    "missing item column": (
        lambda d: write_csv(d / "e.csv", [(u, t) for u, _, t in _rows(["a"])], "user_id,timestamp"),
        3,
        r"missing required column 'item_id'",
    ),
    "duplicate header names": (
        _bytes("e.csv", b"user_id,user_id,timestamp\nu1,i1,1700000000\n"),
        3,
        r"e\.csv: the header names column 'user_id' 2 times",
    ),
    "item column twice": (
        _bytes("e.csv", b"user_id,item_id,timestamp,item_id\nu1,i1,1700000000,x\n"),
        3,
        r"the header names column 'item_id' 2 times",
    ),
    "a row with an extra field": (
        _bytes("e.csv", _csv_with(120, "u2,i3,1700000100,x,y", 40)),
        3,
        r"e\.csv: cannot be read as csv: line 122 has more fields than the header's 3",
    ),
    "a row with a missing field": (
        _bytes("e.csv", _csv_with(120, "u2,i3", 0)),
        3,
        r"e\.csv: cannot be read as csv: line 122 has fewer fields than the header's 3",
    ),
    "a secret file as events": (
        _bytes("shadow.csv", b"root:$6$SECRETHASH:19000:0:99999:7:::\n"),
        3,
        r"shadow\.csv",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_data_in_one_line(tmp_path, name):
    build, code, match = REFUSED[name]
    cfg = PipelineConfig.model_validate({"quality": {"data_docs": False}})
    paths = RunPaths.new(tmp_path / "data", str(build(tmp_path)))
    with pytest.raises(RecsysError) as info:
        extract(paths, cfg)
        quality(paths, cfg)
    message = str(info.value)
    assert info.value.exit_code == code, message
    assert "\n" not in message and re.search(match, message), message
    assert "SECRETHASH" not in message
    assert not (tmp_path / "data" / "runs").exists()


def test_the_data_catalogue_counts(tmp_path):
    assert len(ACCEPTED) + len(TIMES_OK) + len(REFUSED) >= 40
    assert os.path.basename(__file__).startswith("test_hostile")
