"""Deliberately broken models must be refused by the gate (and a sound one must pass).

Stages run as plain functions (no Prefect) on real data: the planted synthetic set and,
when present, MovieLens-100K.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys.config import EvaluateConfig, ExportConfig, GateConfig, PipelineConfig, TrainConfig
from recsys.data.movielens import ml100k_events
from recsys.errors import GateRefused
from recsys.layout import VOCAB, RunPaths
from recsys.model import store
from recsys.tasks.evaluate import evaluate
from recsys.tasks.extract import extract
from recsys.tasks.train import train

# The gate's rules against the configured weights: a run that chooses its weights would
# mix a broken embedding out of its lists (tests/evaluate/test_choice.py).
FAST_EVAL = EvaluateConfig(diagnostics=False, select_weights=False)


def _eval(gate: GateConfig, scoring: str = "sym") -> PipelineConfig:
    return PipelineConfig(evaluate=FAST_EVAL, gate=gate, export=ExportConfig(scoring=scoring))


def _gate(dataset: str) -> GateConfig:
    # The default gate: the published lists never worse than the strongest baseline.
    return GateConfig()


@pytest.fixture(params=["planted", "ml100k"])
def stage(request, tmp_path, planted_events):
    if request.param == "ml100k":
        request.getfixturevalue("ml100k")
        events = str(ml100k_events(tmp_path / "data"))
    else:
        events = str(planted_events)
    paths = RunPaths.new(tmp_path / "data", events)
    extract(paths, PipelineConfig())
    return request.param, paths


def test_sound_model_passes_shuffled_ids_are_refused(stage):
    dataset, paths = stage
    # The default training: a model trained for a quarter of it is not sound on ml-100k.
    train(paths, PipelineConfig(train=TrainConfig(epochs=5 if dataset == "planted" else 20)))
    report = evaluate(paths, _eval(_gate(dataset)))
    assert report.details["gate"] == "passed"

    vocab = pq.read_table(paths.out / VOCAB)
    ids = np.array(vocab.column("item_id").to_pylist(), dtype=object)
    shuffled = np.random.default_rng(0).permutation(ids)
    vocab = vocab.set_column(1, "item_id", pa.array(shuffled.tolist(), pa.string()))
    pq.write_table(vocab, paths.out / VOCAB)
    with pytest.raises(GateRefused, match="item_lists_vs_best_baseline_hr@20"):
        evaluate(paths, _eval(_gate(dataset)))


def test_one_epoch_on_one_percent_is_refused(stage):
    dataset, paths = stage
    lines = paths.corpus.read_text().splitlines()
    keep = lines[: max(1, len(lines) // 100)]
    paths.corpus.write_text("\n".join(keep) + "\n")
    train(paths, PipelineConfig(train=TrainConfig(epochs=1)))
    with pytest.raises(GateRefused, match="lists_vs_best_baseline_hr@20"):
        evaluate(paths, _eval(_gate(dataset)))


def _publish_by_hand(paths: RunPaths, scoring: str) -> str:
    """Make the trained model of `paths` the champion, as publish would (manifest + link)."""
    run_id = "20000101T000000Z-champ0"
    folder = paths.data_dir / "runs" / run_id
    shutil.copytree(paths.out, folder)
    manifest = {"config": {"export": {"scoring": scoring}}, "files": {}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    store.switch_current(paths.data_dir, run_id)
    return run_id


def test_champion_rescored_with_its_own_scoring_and_regression_refused(tmp_path, planted_events):
    paths = RunPaths.new(tmp_path / "data", str(planted_events))
    extract(paths, PipelineConfig())
    train(paths, PipelineConfig(train=TrainConfig(epochs=5)))
    evaluate(paths, _eval(GateConfig(baselines=[]), scoring="in_in"))
    good = json.loads((paths.out / "metrics.json").read_text())["models"]["item2vec"]
    champion = _publish_by_hand(paths, "in_in")

    # Challenger: one epoch on 1% of the sessions; baselines off so only the champion rule
    # can refuse it.
    lines = paths.corpus.read_text().splitlines()
    paths.corpus.write_text("\n".join(lines[: len(lines) // 100]) + "\n")
    train(paths, PipelineConfig(train=TrainConfig(epochs=1)))
    with pytest.raises(GateRefused, match="not_worse_than_champion_hr@20") as refused:
        evaluate(paths, _eval(GateConfig(baselines=[]), scoring="in_out"))
    assert "baseline" not in str(refused.value) and champion in str(refused.value)
    metrics = json.loads((paths.out / "metrics.json").read_text())
    # The champion was scored with its own in_in scoring on the same pairs: same numbers.
    assert metrics["models"]["champion"]["hr@20"] == pytest.approx(good["hr@20"])
    assert metrics["champion"] == {"run_id": champion, "scoring": "in_in"}
