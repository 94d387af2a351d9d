"""Training time budgets really stop gensim: the child process is killed at the limit."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import FAST, run_cli
from recsys.config import TrainConfig
from recsys.errors import DataQualityError, StageTimeout
from recsys.ops.interrupt import call_with_timeout
from recsys.tasks.train import fit


def _corpus(tmp_path: Path) -> tuple[str, dict[str, int]]:
    rng = np.random.default_rng(0)
    lines, counts = [], {}
    for _ in range(2000):
        tokens = [str(t) for t in rng.integers(0, 50, 8)]
        lines.append(" ".join(tokens))
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "corpus.txt"), counts


def test_a_runaway_training_is_killed_at_the_limit(tmp_path):
    corpus, counts = _corpus(tmp_path)
    # The largest epochs and vectors the config allows: minutes inside gensim's C loop.
    cfg = TrainConfig(epochs=1000, vector_size=2048, window=50, workers=1)
    started = time.monotonic()
    with pytest.raises(StageTimeout, match=r"train: stopped after 6 s"):
        call_with_timeout(fit, (corpus, counts, cfg), 6, "train")
    assert time.monotonic() - started < 20
    assert not mp.active_children()  # killed and reaped, not left running


def test_the_child_returns_the_same_model_and_the_same_errors(tmp_path):
    assert os.environ["PYTHONHASHSEED"] == "0"  # inherited by the spawned child
    corpus, counts = _corpus(tmp_path)
    cfg = TrainConfig(epochs=2, vector_size=16, workers=1, seed=5)
    in_child = call_with_timeout(fit, (corpus, counts, cfg), 120, "train")
    assert np.array_equal(in_child.wv.vectors, fit(corpus, counts, cfg).wv.vectors)
    too_rare = cfg.model_copy(update={"min_count": 10**9})
    with pytest.raises(DataQualityError, match=r"no item reaches train\.min_count"):
        call_with_timeout(fit, (corpus, counts, too_rare), 120, "train")


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_a_timed_out_run_exits_1_and_leaves_current_alone(tmp_path, planted_events, capsys):
    data = tmp_path / "d"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    champion = (data / "published" / "current").resolve()
    slow = ["--set", "train.epochs=1000", "--set", "train.vector_size=1024"]
    slow += ["--set", "ops.train_timeout_seconds=5"]
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *slow) == 1
    assert "train: stopped after 5 s" in capsys.readouterr().err
    assert (data / "published" / "current").resolve() == champion
    failed = [p for p in (data / "work").iterdir() if (p / "FAILED").exists()]
    assert len(failed) == 1 and "StageTimeout" in (failed[0] / "FAILED").read_text()
    assert not (failed[0] / "stage.duckdb").exists()
    assert not (failed[0] / "run").exists() and (failed[0] / "reports" / "extract.json").exists()
    assert not list(failed[0].rglob("*.npy"))
