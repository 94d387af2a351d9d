"""One trial: train item2vec with a trial's settings on the validation stage's training part
and score next-item HR/MRR/NDCG on its held-out tail, with the evaluate stage's own code.
The test split is never read."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from recsys.config import EvaluateConfig, TrainConfig
from recsys.model.embedding import Embedding
from recsys.tasks.evaluate import compute_metrics
from recsys.tasks.evaluate.gate import MODEL
from recsys.tasks.train import fit
from recsys.tasks.tune.space import split_params
from recsys.tasks.tune.validation import TuneSetup


def score(stage_db: Path, emb: Embedding, scoring: str, ks: list[int]) -> dict[str, dict]:
    """Metrics of every source (model and baselines) on the stage's held-out pairs, computed
    by the evaluate stage itself, so a trial is scored exactly as the gate will score it."""
    metrics = compute_metrics(stage_db, emb, EvaluateConfig(ks=ks), max(ks), scoring, None)
    return metrics["models"]


def run_trial(
    params: dict[str, Any], setup: TuneSetup, base: TrainConfig, *, full: bool = False
) -> dict[str, Any]:
    """Train with `params` on the (sampled, unless `full`) validation corpus and score it."""
    cfg, scoring = split_params(params, base)
    sampled = setup.sample_corpus is not None and not full
    corpus = setup.sample_corpus if sampled else setup.corpus
    counts = setup.sample_counts if sampled else setup.counts
    start = time.perf_counter()
    model = fit(str(corpus), counts, cfg)
    keys = model.wv.index_to_key
    context = model.syn1neg if cfg.negative > 0 else model.syn1
    emb = Embedding(
        model.wv.vectors, np.asarray([setup.item_of[k] for k in keys], dtype=object), context
    )
    models = score(setup.stage_db, emb, scoring, setup.ks)
    return {
        "params": params,
        "metrics": models.pop(MODEL),
        "baselines": models,
        "seconds": round(time.perf_counter() - start, 3),
        "sampled": sampled,
    }
