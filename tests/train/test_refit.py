"""The refit: after the gate, the same settings trained on every split are what is served;
the evaluated model is kept beside them, and a broken refit is refused."""

from __future__ import annotations

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
