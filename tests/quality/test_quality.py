"""Quality stage: the bad-input catalogue at stage level (each case names its rule), clean
data passing, tolerances, severities and the reports it writes."""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import CASES, HOSTILE, NOW, T0, events_csv, good_rows
from recsys.config import PipelineConfig
from recsys.errors import DataQualityError, UsageError
from recsys.expectations.offline import external_assets
from recsys.layout import RunPaths
from recsys.tasks.extract import extract
from recsys.tasks.quality import quality


def check(tmp_path, events, **overrides):
    overrides.setdefault("quality", {}).setdefault("data_docs", False)
    cfg = PipelineConfig.model_validate(overrides)
    paths = RunPaths.new(tmp_path / "data", str(events))
    extract(paths, cfg, now=NOW)
    return quality(paths, cfg, now=NOW), paths


def test_clean_data_passes_and_writes_reports(tmp_path):
    report, paths = check(
        tmp_path, events_csv(tmp_path / "e.csv", good_rows()), quality={"data_docs": True}
    )
    assert report.details["failed"] == report.details["warnings"] == 0
    text = (paths.out / "quality.md").read_text()
    assert "| pass |" in text and "FAIL" not in text
    assert "drift: skipped, no previous successful run" in text
    for checkpoint in ("raw_events", "sessions", "corpus"):
        assert f"#### {checkpoint}" in text
        assert (paths.out / "data_docs" / "expectations" / f"{checkpoint}.html").is_file()
    assert (paths.out / "data_docs" / "index.html").is_file()
    assert external_assets(paths.out / "data_docs") == []  # readable offline
    assert "recsys-offline" in (paths.out / "data_docs" / "index.html").read_text()
    assert (paths.out / "quality_profile.json").is_file()


@pytest.mark.parametrize("name", sorted(CASES))
def test_catalogue(tmp_path, name):
    case = CASES[name]
    events = case.build(tmp_path)
    with pytest.raises(case.error, match=case.match) as info:
        check(tmp_path, events, **{k: dict(v) for k, v in (case.overrides or {}).items()})
    message = str(info.value)
    assert "\n" not in message
    if case.error is DataQualityError and "data quality failed" in message:
        # The summary names the first failed rule and the counts, and the report exists.
        assert " failed, " in message and " passed of " in message
        failed = int(re.search(r"; (\d+) failed, ", message).group(1))
        assert ("(also failed: " in message) == (failed > 1), message  # the others by name
        report = next((tmp_path / "data" / "work").iterdir()) / "run" / "quality.md"
        assert "**FAIL**" in report.read_text()


def test_extra_columns_are_fine(tmp_path):
    rows = [(*r, "x", 1.5) for r in good_rows()]
    events = events_csv(tmp_path / "e.csv", rows, "user_id,item_id,timestamp,colour,price")
    report, _ = check(tmp_path, events)
    assert report.details["failed"] == 0


def test_hostile_column_names_are_quoted_not_executed(tmp_path):
    header = ",".join('"' + c.replace('"', '""') + '"' for c in HOSTILE.values())
    events = events_csv(tmp_path / "e.csv", good_rows(), header=header)
    report, _ = check(tmp_path, events, extract={"columns": HOSTILE})
    assert report.details["failed"] == 0
    assert report.rows_in == len(good_rows())


def test_other_delimiters_are_sniffed(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(
        "user_id;item_id;timestamp\n" + "".join(f"{u};{i};{t}\n" for u, i, t in good_rows())
    )
    report, _ = check(tmp_path, path)
    assert report.details["failed"] == 0


def test_tolerances_let_a_few_bad_rows_through(tmp_path):
    rows = good_rows() + [("u1", None, T0)]
    report, _ = check(
        tmp_path, events_csv(tmp_path / "e.csv", rows), quality={"max_null_id_fraction": 0.01}
    )
    assert report.details["null_item_ids"] == 1


def test_a_rule_set_to_warn_annotates_instead_of_stopping(tmp_path):
    rows = good_rows() + good_rows() * 9
    report, paths = check(
        tmp_path, events_csv(tmp_path / "e.csv", rows), quality={"severity": {"duplicates": "warn"}}
    )
    assert report.details["failed"] == 0 and report.details["warnings"] == 1
    assert report.details["warned_rules"] == "duplicates"
    assert report.details["duplicate_fraction"] == pytest.approx(0.9)
    assert (
        "| duplicates | share of exact duplicate rows <= 0.2 | 0.9 | warn | **WARN** |"
        in (paths.out / "quality.md").read_text()
    )


def test_a_warn_rule_can_be_made_to_fail(tmp_path):
    second = [("u1", f"i{j}", T0 + 86_400 + 7_200 + j * 60) for j in range(8)]
    events = events_csv(tmp_path / "e.csv", good_rows() + second)
    report, _ = check(tmp_path, events, quality={"max_sessions_per_user": 1})
    assert report.details["warned_rules"] == "sessions_per_user"
    with pytest.raises(DataQualityError, match=r"sessions.sessions_per_user: .* \(observed 2\)"):
        check(
            tmp_path,
            events,
            quality={
                "max_sessions_per_user": 1,
                "severity": {"sessions.sessions_per_user": "fail"},
            },
        )


def test_drift_rules_can_be_set_before_there_is_a_baseline(tmp_path):
    report, _ = check(
        tmp_path,
        events_csv(tmp_path / "e.csv", good_rows()),
        quality={"severity": {"drift.top_overlap": "warn"}},
    )
    assert report.details["failed"] == 0
    assert report.details["drift"].startswith("drift: skipped")


def test_unknown_severity_id_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"unknown rule id.*no_such_rule"):
        check(
            tmp_path,
            events_csv(tmp_path / "e.csv", good_rows()),
            quality={"severity": {"no_such_rule": "warn"}},
        )


def test_bot_share_counts_only_the_bot(tmp_path):
    """A user firing 300 events in a minute is a bot; its share of events is exact."""
    rows = good_rows() + [("bot", f"i{k % 40}", T0 + k * 0.2) for k in range(300)]
    table = pa.table(
        {
            "user_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "timestamp": [float(r[2]) for r in rows],
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    report, _ = check(tmp_path, tmp_path / "e.parquet", quality={"max_bot_event_share": 0.6})
    assert report.details["bot_users"] == 1
    assert report.details["bot_event_share"] == pytest.approx(300 / (300 + 240), abs=0.01)


def test_failed_rules_show_the_offending_rows(tmp_path):
    rows = good_rows()
    rows = rows[:5] + [("u1", "", T0)] + rows[5:9] + [("u2", "i1", "soon")] + rows[9:]
    with pytest.raises(DataQualityError, match=r"raw_events\.null_ids"):
        check(tmp_path, events_csv(tmp_path / "e.csv", rows))
    report = next((tmp_path / "data" / "work").iterdir()) / "run" / "quality.md"
    text = report.read_text()
    assert "null_ids:" in text and "timestamp_parse:" in text
    assert f"| 6 | u1 |  | {T0} |  |" in text  # the sixth data row, item_id empty
    assert "| 11 | u2 | i1 | soon |  |" in text
