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

from helpers import CASES, FAST, run_cli
from recsys.data.synthetic import group_of
from recsys.model.store import verify

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

END_TO_END = [
    "empty file",
    "non-UTF-8 bytes",
    "90% duplicate rows",
    "milliseconds read as seconds",
    "hostile column names, one missing",
    "glob matching no file",
    "directory of mixed formats",
]


# Refused by the command line from the first file's header (tasks/extract/read.py
# check_columns), before Prefect starts: no run folder, no reports.
BEFORE_ANY_RUN = {"empty file", "non-UTF-8 bytes", "hostile column names, one missing"}


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
    new_runs = {p.name for p in (champion / "work").iterdir()} - work
    if code == 3 and name in BEFORE_ANY_RUN:
        assert not new_runs  # refused from the file's header, before a run began
    elif code == 3:  # a data-quality stop keeps its reports and says why
        assert failed_note(champion, work).startswith("DataQualityError: ")
        named = re.search(r"see (\S+quality\.md)", err[0])
        assert named is None or Path(named.group(1)).is_file()  # where the report now is


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
    assert "(also failed: drift.popularity_psi)" in err  # every failed rule named, one line
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


def test_quality_artifacts_are_in_the_api(champion):
    """The champion's run left one markdown artifact per checkpoint and a Data Docs link."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        FlowRunFilter,
        TaskRunFilter,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    keys = ["recsys-quality-raw-events", "recsys-quality-sessions", "recsys-quality-corpus"]
    keys.append("recsys-quality-data-docs")

    async def read():
        async with get_client() as client:
            # This server wants every filter field present (422 on nulls).
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)),
                flow_run_filter=FlowRunFilter(),
                task_run_filter=TaskRunFilter(),
                sort=ArtifactSort.CREATED_DESC,
                limit=200,
            )
        return {a.key: a for a in reversed(found)}  # newest wins

    found = asyncio.run(read())
    assert set(keys) <= set(found)
    assert "| has_rows |" in found["recsys-quality-raw-events"].data
    docs = found["recsys-quality-data-docs"].data
    assert docs.startswith("[") and "data_docs/index.html" in docs


def test_quality_retries_io_errors_but_never_a_verdict(monkeypatch, tmp_path):
    from prefect import flow

    from recsys.config import PipelineConfig
    from recsys.errors import DataQualityError
    from recsys.layout import RunPaths
    from recsys.tasks import quality as stage

    calls = []

    def flaky(paths, cfg):
        calls.append(len(calls))
        if len(calls) == 1:
            raise OSError("stage.duckdb briefly unreadable")
        raise DataQualityError("data quality failed: a verdict")

    monkeypatch.setattr(stage, "quality", flaky)
    task = stage.quality_task.with_options(retry_delay_seconds=0)
    cfg = PipelineConfig()

    @flow
    def one_stage():
        return task(RunPaths.new(tmp_path), cfg)

    with pytest.raises(DataQualityError):
        one_stage()
    assert len(calls) == 2  # the OSError was retried once; the verdict was not
