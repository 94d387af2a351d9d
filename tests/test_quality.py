"""Bad inputs: each stops with a named rule (DataQualityError, exit 3) or a usage error."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from conftest import events_csv
from recsys.config import PipelineConfig
from recsys.errors import DataQualityError, UsageError
from recsys.layout import RunPaths
from recsys.tasks.extract import extract
from recsys.tasks.quality import quality

T0 = 1_700_000_000
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def good_rows(n_users=30, per_user=8):
    return [
        (f"u{u}", f"i{(u * 3 + j) % 40}", T0 + u * 86_400 + j * 60)
        for u in range(n_users)
        for j in range(per_user)
    ]


def check(tmp_path, events, **overrides):
    cfg = PipelineConfig.model_validate(overrides)
    paths = RunPaths.new(tmp_path / "data")
    extract(str(events), paths, cfg.extract, cfg.quality, now=NOW)
    return quality(paths, cfg.quality, cfg.extract, now=NOW), paths


def test_clean_data_passes_and_writes_a_report(tmp_path):
    report, paths = check(tmp_path, events_csv(tmp_path / "e.csv", good_rows()))
    assert report.details["failed"] == 0
    assert "| pass |" in (paths.out / "quality.md").read_text()


BAD = {
    "null item_id": (lambda r: r[:5] + [("u1", None, T0)] + r[5:], "null or empty user_id/item_id"),
    "empty user_id": (lambda r: r + [("  ", "i1", T0)], "null or empty user_id/item_id"),
    "future timestamp": (lambda r: r + [("u1", "i1", 4_000_000_000)], "later than now"),
    "1970 timestamp": (lambda r: r + [("u1", "i1", 5)], "before 1995"),
    "unparseable timestamp": (lambda r: r + [("u1", "i1", "yesterday")], "does not parse"),
    "NaN timestamp": (lambda r: r + [("u1", "i1", "nan")], "does not parse"),
    "inf timestamp": (lambda r: r + [("u1", "i1", "inf")], "does not parse"),
    "header only": (lambda r: [], "at least one data row"),
    "too few events": (lambda r: r[:16], "at least 100 usable events"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_rows_fail_with_the_rule_named(tmp_path, case):
    mutate, message = BAD[case]
    events = events_csv(tmp_path / "e.csv", mutate(good_rows()))
    with pytest.raises(DataQualityError, match=message):
        check(tmp_path, events)


def test_tolerances_let_a_few_bad_rows_through(tmp_path):
    rows = good_rows() + [("u1", None, T0)]
    report, _ = check(
        tmp_path, events_csv(tmp_path / "e.csv", rows), quality={"max_null_id_fraction": 0.01}
    )
    assert report.details["null_item_ids"] == 1


def test_other_delimiters_are_sniffed(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(
        "user_id;item_id;timestamp\n" + "".join(f"{u};{i};{t}\n" for u, i, t in good_rows())
    )
    report, _ = check(tmp_path, path)
    assert report.details["failed"] == 0


def test_unreadable_layout_names_the_missing_column(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id item_id timestamp\n" + "".join(f"u{i} i{i} {T0}\n" for i in range(9)))
    with pytest.raises(DataQualityError, match="missing required column"):
        check(tmp_path, path)


def test_gzip_that_is_not_gzip(tmp_path):
    path = tmp_path / "e.csv.gz"
    path.write_text("user_id,item_id,timestamp\nu1,i1,1\n")
    with pytest.raises(DataQualityError, match="cannot be read as csv"):
        check(tmp_path, path)


def test_truncated_row(tmp_path):
    path = tmp_path / "e.csv.gz"
    body = "user_id,item_id,timestamp\n" + "".join(f"u{i},i{i},{T0 + i}\n" for i in range(50))
    path.write_bytes(gzip.compress((body + "u9,i9").encode()))
    with pytest.raises(DataQualityError):
        check(tmp_path, path)


def test_directory_of_mixed_formats(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    events_csv(folder / "a.csv", good_rows())
    (folder / "b.jsonl").write_text("{}\n")
    with pytest.raises(UsageError, match="mixes formats"):
        check(tmp_path, folder)


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(b"user_id,item_id,timestamp\nu1,\xff\xfe,1700000000\n")
    with pytest.raises(DataQualityError):
        check(tmp_path, path)
