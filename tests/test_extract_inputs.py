"""Input shapes: daily partition directories, file:// URLs, CSV delimiters."""

from __future__ import annotations

import hashlib

import pyarrow.compute as pc
from test_extract import run_extract

from recsys.synth import generate, write


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
