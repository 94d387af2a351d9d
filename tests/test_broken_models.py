"""Deliberately broken models must be refused by the gate (and a sound one must pass).

Stages run as plain functions (no Prefect) on real data: the planted synthetic set and,
when present, MovieLens-100K.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys.config import EvaluateConfig, ExtractConfig, GateConfig, QualityConfig, TrainConfig
from recsys.datasets import ml100k_events
from recsys.errors import GateRefused
from recsys.layout import RunPaths
from recsys.tasks.evaluate import evaluate
from recsys.tasks.extract import extract
from recsys.tasks.train import train
from recsys.vocab import VOCAB

FAST_EVAL = EvaluateConfig(diagnostics=False)


def _gate(dataset: str) -> GateConfig:
    # Planted data caps any model's lift over co-occurrence (see conftest.FAST).
    return GateConfig(min_lift=0.05) if dataset == "planted" else GateConfig()


@pytest.fixture(params=["planted", "ml100k"])
def stage(request, tmp_path, planted_events):
    if request.param == "ml100k":
        request.getfixturevalue("ml100k")
        events = str(ml100k_events(tmp_path / "data"))
    else:
        events = str(planted_events)
    paths = RunPaths.new(tmp_path / "data")
    extract(events, paths, ExtractConfig(), QualityConfig())
    return request.param, paths


def test_sound_model_passes_shuffled_ids_are_refused(stage):
    dataset, paths = stage
    train(paths, TrainConfig(epochs=5))
    report = evaluate(paths, FAST_EVAL, _gate(dataset))
    assert report.details["gate"] == "passed"

    vocab = pq.read_table(paths.out / VOCAB)
    ids = np.array(vocab.column("item_id").to_pylist(), dtype=object)
    shuffled = np.random.default_rng(0).permutation(ids)
    vocab = vocab.set_column(1, "item_id", pa.array(shuffled.tolist(), pa.string()))
    pq.write_table(vocab, paths.out / VOCAB)
    with pytest.raises(GateRefused, match="lift_hr@20_over_cooccurrence"):
        evaluate(paths, FAST_EVAL, _gate(dataset))


def test_one_epoch_on_one_percent_is_refused(stage):
    dataset, paths = stage
    lines = paths.corpus.read_text().splitlines()
    keep = lines[: max(1, len(lines) // 100)]
    paths.corpus.write_text("\n".join(keep) + "\n")
    train(paths, TrainConfig(epochs=1))
    with pytest.raises(GateRefused, match="lift_hr@20_over_"):
        evaluate(paths, FAST_EVAL, _gate(dataset))
