"""The catalogue end to end through `recsys run` after a successful run: each bad input
exits with its contract code, leaves `published/current` on the champion, and a drifted
second run is stopped by the drift checkpoint while the champion keeps serving."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from catalogue import CASES

from conftest import FAST, run_cli
from recsys.published import verify
from recsys.synth import group_of

pytestmark = pytest.mark.usefixtures("prefect_api")

END_TO_END = [
    "empty file",
    "non-UTF-8 bytes",
    "90% duplicate rows",
    "milliseconds read as seconds",
    "hostile column names, one missing",
    "glob matching no file",
    "directory of mixed formats",
]


@pytest.fixture(scope="module")
def champion(tmp_path_factory, planted_events) -> Path:
    data = tmp_path_factory.mktemp("champion") / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    return data


def current(data: Path) -> Path:
    return (data / "published" / "current").resolve()


def failed_note(data: Path, before: set[str]) -> str:
    new = sorted(p for p in (data / "work").iterdir() if p.name not in before)
    return (new[-1] / "FAILED").read_text().splitlines()[0] if new else ""


def test_the_champion_publishes_its_quality_reports(champion):
    run = current(champion)
    manifest = verify(run)
    assert {"quality.md", "quality_profile.json"} <= set(manifest["files"])
    assert (run / "data_docs" / "index.html").is_file()
    assert "drift: skipped" in (run / "quality.md").read_text()
    assert json.loads((run / "quality_profile.json").read_text())["run_id"] == run.name


@pytest.mark.parametrize("name", END_TO_END)
def test_bad_input_leaves_the_champion_serving(champion, tmp_path, capsys, name):
    case = CASES[name]
    events = case.build(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(case.overrides or {}))
    before, work = current(champion), {p.name for p in (champion / "work").iterdir()}
    capsys.readouterr()
    code = run_cli("run", "--events", events, "--data-dir", champion, "--config", config, *FAST)
    assert code == case.error.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert re.search(case.match, err[0])
    assert current(champion) == before
    verify(before)
    if code == 3:  # a data-quality stop keeps its reports and says why
        assert failed_note(champion, work).startswith("DataQualityError: ")


def test_drifted_run_is_stopped_and_the_champion_keeps_serving(
    champion, tmp_path, planted_events, capsys
):
    table = pq.read_table(planted_events)
    items = table["item_id"].to_pylist()
    # Half the items (the odd planted groups) get new ids, as after an upstream re-keying.
    renamed = [f"{i}-v2" if group_of(i) % 2 else i for i in items]
    assert 0.3 < sum(a != b for a, b in zip(items, renamed, strict=True)) / len(items) < 0.7
    drifted = tmp_path / "drifted.parquet"
    pq.write_table(table.set_column(1, "item_id", pa.array(renamed, pa.string())), drifted)

    before = current(champion)
    capsys.readouterr()
    assert run_cli("run", "--events", drifted, "--data-dir", champion, *FAST) == 3
    err = capsys.readouterr().err
    assert "data quality failed: drift.top_overlap" in err
    assert current(champion) == before
    assert run_cli("similar", "g0-i0", "-k", "3", "--data-dir", champion) == 0

    # Made warnings, the same drift annotates the run instead of stopping it.
    warn = ["--set", "quality.severity.top_overlap=warn"]
    warn += ["--set", "quality.severity.popularity_psi=warn"]
    assert run_cli("run", "--events", drifted, "--data-dir", champion, *FAST, *warn) == 0
    published = current(champion)
    assert published != before
    text = (published / "quality.md").read_text()
    assert f"drift: compared with published run {before.name}" in text
    assert "| top_overlap |" in text and "**WARN**" in text
