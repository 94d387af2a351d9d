"""The validation stage of a search: the run's *training period* split again by time.

Trials train on its first part and are scored on its tail, so the test split the gate
later reads is never used to choose hyperparameters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from recsys import sqlrun
from recsys.config import PipelineConfig
from recsys.layout import (
    TRAIN_PERIOD,
    VALIDATION_CORPUS,
    VALIDATION_DB,
    VALIDATION_SAMPLE,
    RunPaths,
)
from recsys.tasks.extract.params import CORPUS_IDENTS, sql_params


class TuneSetup(BaseModel):
    """Files every trial reads (picklable, so trials can run on Dask workers) and what the
    tuned baselines scored on the validation cases."""

    stage_db: Path
    corpus: Path
    sample_corpus: Path | None = None
    sample_counts: dict[str, int] | None = None
    counts: dict[str, int]
    item_of: dict[str, str]
    ks: list[int]
    session_cases: int = 0
    lists_path: Path | None = None  # the tuned item baselines' lists (tune/baselines.py)
    count_channel: str = "sr"
    baselines: dict = {}  # the tuned evaluate.baselines section
    item_baselines: dict[str, dict[str, float]] = {}
    session_baselines: dict[str, dict[str, float]] = {}


def build_validation_stage(paths: RunPaths, cfg: PipelineConfig) -> TuneSetup:
    """Split the training period by time into validation-train / validation-holdout."""
    train_period = paths.work_dir / TRAIN_PERIOD
    stage = paths.work_dir / VALIDATION_DB
    corpus = paths.work_dir / VALIDATION_CORPUS
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        sqlrun.run(con, "tune/train_period", {"path": str(train_period)})
    stage.unlink(missing_ok=True)
    params = sql_params(cfg.extract, datetime.now(UTC), corpus)
    params |= {
        "test_fraction": cfg.tune.validation_fraction,
        "validation_fraction": 0.0,
        "test_start": None,
        "validation_start": None,
    }
    with sqlrun.connect(stage, memory_limit=cfg.extract.memory_limit) as con:
        sqlrun.run(con, "tune/load_train_period", {"path": str(train_period)})
        for step in ("extract/split", "extract/items"):
            sqlrun.run(con, step, params)
        sqlrun.run(con, "extract/corpus", params, idents=CORPUS_IDENTS)
        vocab = sqlrun.run(con, "tune/vocab").fetchall()
        sample = sample_counts = None
        if cfg.tune.sample_fraction < 1:
            per_mille = max(1, round(cfg.tune.sample_fraction * 1000))
            sample = paths.work_dir / VALIDATION_SAMPLE
            sqlrun.run(con, "tune/sample_corpus", {"per_mille": per_mille, "path": str(sample)})
            rows = sqlrun.run(con, "tune/sample_counts", {"per_mille": per_mille}).fetchall()
            sample_counts = {token: int(n) for token, n in rows}
    train_period.unlink(missing_ok=True)
    return TuneSetup(
        stage_db=stage,
        corpus=corpus,
        sample_corpus=sample,
        sample_counts=sample_counts,
        counts={token: int(n) for token, _, n in vocab},
        item_of={token: item for token, item, _ in vocab},
        ks=sorted({*cfg.evaluate.ks, int(cfg.tune.metric.split("@")[1])}),
        session_cases=cfg.tune.session_cases,
    )
