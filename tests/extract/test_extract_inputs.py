"""Input shapes: daily partition directories, file:// URLs, CSV delimiters, Parquet reads."""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from helpers import run_extract
from recsys.data.synthetic import generate, write
from recsys.errors import DataQualityError


def _corpus(paths) -> str:
    return hashlib.sha256(paths.corpus.read_bytes()).hexdigest()


def _daily_partitions(data, folder, suffix):
    day = pc.cast(pc.divide(data["timestamp"], 86_400), "int64")
    for d in sorted(set(day.to_pylist())):
        part = data.filter(pc.equal(day, d))
        write(part, folder / f"date={d}" / f"events{suffix}")
    return folder


def test_directory_of_daily_partitions_equals_one_file(tmp_path):
    data = generate(3_000, 80, seed=11)
    whole, report = run_extract(tmp_path, write(data, tmp_path / "all.parquet"))
    for suffix in (".parquet", ".csv"):
        folder = _daily_partitions(data, tmp_path / f"daily{suffix}", suffix)
        assert len(list(folder.iterdir())) > 10
        parts, part_report = run_extract(tmp_path, folder)
        assert _corpus(parts) == _corpus(whole)
        assert part_report.rows_in == report.rows_in == 3_000


def test_file_url_reads_like_a_path(tmp_path):
    events = write(generate(2_000, 60, seed=2), tmp_path / "e.parquet")
    plain, _ = run_extract(tmp_path, events)
    url, report = run_extract(tmp_path, f"file://{events}")
    assert _corpus(url) == _corpus(plain)
    assert report.details["source"] == str(events)


def test_semicolon_csv_sniffed_or_configured(tmp_path):
    events = write(generate(2_000, 60, seed=4), tmp_path / "e.parquet")
    reference, _ = run_extract(tmp_path, events)
    comma = write(generate(2_000, 60, seed=4), tmp_path / "e.csv").read_text()
    semi = tmp_path / "semi.csv"
    semi.write_text(comma.replace(",", ";"))
    sniffed, _ = run_extract(tmp_path, semi)
    configured, _ = run_extract(tmp_path, semi, csv_delimiter=";")
    assert _corpus(sniffed) == _corpus(configured) == _corpus(reference)


def _typed(paths) -> list[tuple]:
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        return con.execute(
            "select input_order, user_id, item_id, ts, drop_rule, seq, session_key "
            "from typed_events order by input_order"
        ).fetchall()


def test_parquet_files_are_numbered_in_read_order(tmp_path):
    # Parquet is read lazily and numbered from file row counts: the rows must get the
    # numbers a CSV read (numbered as it is read) gives the same files, ties included.
    data = generate(3_000, 80, seed=12)
    ties = pc.multiply(pc.divide(data["timestamp"], 600), 600)  # many equal times
    data = data.set_column(data.schema.get_field_index("timestamp"), "timestamp", ties)
    parquet = _daily_partitions(data, tmp_path / "daily.parquet", ".parquet")
    csv = _daily_partitions(data, tmp_path / "daily.csv", ".csv")
    from_parquet, _ = run_extract(tmp_path, parquet)
    from_csv, _ = run_extract(tmp_path, csv)
    rows = _typed(from_parquet)
    assert [r[0] for r in rows] == list(range(1, 3_001))
    assert rows == _typed(from_csv)
    assert _corpus(from_parquet) == _corpus(from_csv)


def test_parquet_with_columns_named_like_duckdb_virtual_columns(tmp_path):
    # Own columns `file_index` / `file_row_number` hide DuckDB's virtual ones: the rows are
    # still numbered in read order (not by the file's values).
    data = generate(2_000, 60, seed=6)
    plain, _ = run_extract(tmp_path, write(data, tmp_path / "plain.parquet"))
    hostile = data.append_column("file_row_number", pa.array(range(2_000, 0, -1)))
    hostile = hostile.append_column("file_index", pa.array([7] * 2_000))
    clashing, _ = run_extract(tmp_path, write(hostile, tmp_path / "clash.parquet"))
    assert _typed(clashing) == _typed(plain)
    assert _corpus(clashing) == _corpus(plain)


def test_corrupt_parquet_pages_fail_with_one_line_naming_the_file(tmp_path):
    # The footer is intact (the schema reads), a data page is not: the rows are first read
    # inside extract/rows, and the error is still read_source's one-line DataQualityError.
    events = tmp_path / "broken.parquet"
    pq.write_table(generate(20_000, 200, seed=1), events, compression="zstd")
    raw = bytearray(events.read_bytes())
    for i in range(len(raw) // 10, len(raw) * 8 // 10):  # pages, not the footer
        raw[i] ^= 0x5A
    events.write_bytes(bytes(raw))
    assert duckdb.sql(f"describe select * from '{events}'").fetchall()
    with pytest.raises(DataQualityError, match=f"^{events}: cannot be read as parquet: .*") as err:
        run_extract(tmp_path, events)
    assert "\n" not in str(err.value)
