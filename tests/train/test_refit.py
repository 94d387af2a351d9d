"""The refit: after the gate, the same settings trained on every split are what is served;
the evaluated model is kept beside them, and a broken refit is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.config import PipelineConfig
from recsys.errors import GateRefused
from recsys.layout import EVALUATED_PREFIX, MODEL_FILES, VECTORS, RunPaths
from recsys.model.embedding import Embedding
from recsys.tasks.extract import extract
from recsys.tasks.train import refit as refit_module
from recsys.tasks.train import train
from recsys.tasks.train.refit import refit

SMALL = {"train": {"epochs": 2, "vector_size": 16, "workers": 1}}


@pytest.fixture
def trained(tmp_path, planted_events):
    cfg = PipelineConfig.model_validate(SMALL)
    paths = RunPaths.new(tmp_path / "data", str(planted_events))
    extract(paths, cfg)
    report = train(paths, cfg)
    return paths, cfg, report


def test_refit_learns_from_every_split_and_keeps_the_evaluated_model(trained):
    paths, cfg, trained_report = trained
    before = {name: (paths.out / name).read_bytes() for name in MODEL_FILES}
    report = refit(paths, cfg)
    for name in MODEL_FILES:
        assert (paths.out / (EVALUATED_PREFIX + name)).read_bytes() == before[name]
    served, evaluated = Embedding.load(paths.out), Embedding.load(paths.out, EVALUATED_PREFIX)
    # The held-out tail's events are in the served model's corpus and counts.
    assert report.rows_in > trained_report.rows_in
    count = dict(zip(served.item_ids.tolist(), served.counts.tolist(), strict=True))
    assert all(
        count[item] >= n for item, n in zip(evaluated.item_ids, evaluated.counts, strict=True)
    )
    assert sum(served.counts) > sum(evaluated.counts)
    assert report.details["sanity"] == "passed"
    # A retry after the rename finds the evaluated files and keeps them.
    refit(paths, cfg)
    assert (paths.out / (EVALUATED_PREFIX + VECTORS)).read_bytes() == before[VECTORS]


def test_refit_off_serves_the_evaluated_model(trained):
    paths, _, _ = trained
    cfg = PipelineConfig.model_validate(SMALL | {"train": {**SMALL["train"], "refit": "off"}})
    before = (paths.out / VECTORS).read_bytes()
    refit(paths, cfg)
    assert (paths.out / VECTORS).read_bytes() == before
    assert (paths.out / (EVALUATED_PREFIX + VECTORS)).read_bytes() == before


def test_a_refit_with_broken_vectors_is_refused(trained, monkeypatch):
    paths, cfg, _ = trained
    real = refit_module.run_training

    def diverged(*args):
        report = real(*args)
        vectors = np.load(paths.out / VECTORS)
        vectors[0, 0] = np.nan
        np.save(paths.out / VECTORS, vectors)
        return report

    monkeypatch.setattr(refit_module, "run_training", diverged)
    with pytest.raises(GateRefused, match=r"refit model failed.*finite_vectors"):
        refit(paths, cfg)


def test_warm_refit_continues_the_evaluated_model_on_the_tail(trained):
    paths, _, trained_report = trained
    warm = SMALL | {"train": {**SMALL["train"], "refit": "warm", "warm_epochs": 1}}
    cfg = PipelineConfig.model_validate(warm)
    report = refit(paths, cfg)
    served, evaluated = Embedding.load(paths.out), Embedding.load(paths.out, EVALUATED_PREFIX)
    # Only the held-out tail is trained on: far fewer tokens than the training split.
    assert 0 < report.rows_in < trained_report.rows_in
    assert report.details["warm_start"] and report.details["epochs"] == 1
    assert report.details["refit"] == "warm" and report.details["sanity"] == "passed"
    # Every evaluated item is served; counts add the tail's, as a full refit's would.
    count = dict(zip(served.item_ids.tolist(), served.counts.tolist(), strict=True))
    assert set(evaluated.item_ids) <= set(count)
    assert sum(served.counts) == sum(evaluated.counts) + report.rows_in
    # Items the tail never mentions keep their evaluated vectors exactly.
    row = {item: i for i, item in enumerate(served.item_ids.tolist())}
    moved = [
        not np.array_equal(served.vectors[row[item]], evaluated.vectors[i])
        for i, item in enumerate(evaluated.item_ids.tolist())
    ]
    assert any(moved) and not all(moved)


def test_init_champion_warm_starts_only_from_a_champion_that_saw_no_held_out_event(
    tmp_path, planted_events
):
    from recsys.layout import EXTRACT_REPORT
    from recsys.model.store import sha256_file
    from recsys.tasks.train.warmstart import champion_start

    cfg = PipelineConfig.model_validate(
        {"train": {**SMALL["train"], "init": "champion", "warm_epochs": 1}}
    )
    data = tmp_path / "data"
    paths = RunPaths.new(data, str(planted_events))
    extract(paths, cfg)
    # No champion yet: trained from scratch, and the report says why.
    report = train(paths, cfg)
    assert report.details["init"].startswith("scratch: no published champion")
    # Publish that model by hand as the champion, trained up to a cut before this run's.
    run = data / "runs" / "champ"
    run.mkdir(parents=True)
    for name in MODEL_FILES:
        (run / name).write_bytes((paths.out / name).read_bytes())
    (data / "published").mkdir()
    (data / "published" / "current").symlink_to(run)
    files = {
        n: {"bytes": (run / n).stat().st_size, "sha256": sha256_file(run / n)} for n in MODEL_FILES
    }
    manifest = {"model_run": "champ", "files": files, "schema_version": 1}
    (run / "manifest.json").write_text(json.dumps(manifest))
    extract_report = '{"details": {"cut_ts": "%s", "validation_cut_ts": null}}'
    from recsys import sqlrun

    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        first, last = con.execute(
            "select min(ts), max(ts) from events where split = 'train'"
        ).fetchone()
    middle = first + (last - first) / 2
    (run / EXTRACT_REPORT).write_text(extract_report % middle)
    start = champion_start(paths, cfg.train)
    assert not isinstance(start, str), start
    assert start[0] == run and start[2] == middle
    report = train(paths, cfg)
    assert report.details["init"].startswith("champion champ")
    assert 0 < report.rows_in < trained_tokens(paths)
    # A champion that trained past this run's training split would leak the held-out tail.
    (run / EXTRACT_REPORT).write_text(extract_report % (last + (last - first)))
    assert "after this run's training split" in champion_start(paths, cfg.train)
    other = cfg.train.model_copy(update={"vector_size": 8})
    assert "vector_size" in champion_start(paths, other)


def trained_tokens(paths: RunPaths) -> int:
    from recsys import sqlrun

    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        return con.execute("select sum(train_count) from items").fetchone()[0]
