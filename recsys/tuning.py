"""Hyperparameter search pieces: the search space, one trial, and the search's outputs.

A trial trains item2vec on the validation stage's training part (the first part of the
run's training period) and scores next-item HR/MRR/NDCG on its held-out tail, with the same
SQL the evaluate stage uses. The test split is never read. The search space follows
"Word2vec applied to Recommendation: Hyperparameters Matter" (Caselles-Dupré et al. 2018):
window, ns_exponent, sample and epochs move results most; in·out scoring matters most of all
on session data (see recsys.index).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from recsys.config import TrainConfig
from recsys.vocab import Embedding

MODEL = "item2vec"  # the evaluate stage's name for the model's source


class TuneSetup(BaseModel):
    """Files every trial reads (picklable, so trials can run on Dask workers)."""

    stage_db: Path
    corpus: Path
    sample_corpus: Path | None = None
    sample_counts: dict[str, int] | None = None
    counts: dict[str, int]
    item_of: dict[str, str]
    ks: list[int]


def suggest(trial: Any) -> dict[str, Any]:
    """Draw one configuration from an Optuna trial: gensim knobs plus the scoring."""
    return {
        "sg": trial.suggest_categorical("sg", [0, 1]),
        "window": trial.suggest_categorical("window", [1, 2, 3, 5, 8, 12]),
        "negative": trial.suggest_categorical("negative", [5, 10, 20]),
        "ns_exponent": trial.suggest_float("ns_exponent", -0.5, 1.0, step=0.25),
        "sample": trial.suggest_categorical("sample", [0.0, 1e-5, 1e-4, 1e-3]),
        "epochs": trial.suggest_categorical("epochs", [5, 10, 20, 30]),
        "vector_size": trial.suggest_categorical("vector_size", [16, 32, 64, 128]),
        "alpha": trial.suggest_float("alpha", 0.005, 0.1, log=True),
        "shrink_windows": trial.suggest_categorical("shrink_windows", [True, False]),
        "scoring": trial.suggest_categorical("scoring", ["in_out", "in_in"]),
    }


def split_params(params: dict[str, Any], base: TrainConfig) -> tuple[TrainConfig, str]:
    """(training config, scoring) of a trial's parameters on top of the base config."""
    knobs = {k: v for k, v in params.items() if k != "scoring"}
    return base.model_copy(update=knobs), params.get("scoring", "in_out")


def score(stage_db: Path, emb: Embedding, scoring: str, ks: list[int]) -> dict[str, dict]:
    """Metrics of every source (model and baselines) on the stage's held-out pairs, computed
    by the evaluate stage itself, so a trial is scored exactly as the gate will score it."""
    from recsys.config import EvaluateConfig
    from recsys.tasks.evaluate import compute_metrics

    metrics = compute_metrics(stage_db, emb, EvaluateConfig(ks=ks), max(ks), scoring, None)
    return metrics["models"]


def run_trial(
    params: dict[str, Any], setup: TuneSetup, base: TrainConfig, *, full: bool = False
) -> dict[str, Any]:
    """Train with `params` on the (sampled, unless `full`) validation corpus and score it."""
    import numpy as np

    from recsys.tasks.train import fit

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


def write_tuned(path: Path, params: dict[str, Any], base: TrainConfig, summary: dict) -> None:
    """DATA_DIR/tuned.yaml: a config layer `recsys run` reads before --config/--set."""
    cfg, scoring = split_params(params, base)
    knobs = {k: getattr(cfg, k) for k in params if k != "scoring"}
    header = "".join(f"# {line}\n" for line in json.dumps(summary, indent=1).splitlines())
    body = yaml.safe_dump({"train": knobs, "export": {"scoring": scoring}}, sort_keys=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# written by `recsys tune`; an explicit --config/--set wins\n" + header + body)
    tmp.replace(path)


def svg_plot(values: list[float], best: list[float], metric: str) -> str:
    """A dependency-free SVG of the metric per trial and the best so far."""
    width, height, pad = 640, 320, 40
    top = max([*values, 1e-9]) * 1.1
    n = max(len(values) - 1, 1)

    def xy(i: int, v: float) -> str:
        x = pad + i * (width - 2 * pad) / n
        y = height - pad - v / top * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    dots = "".join(
        f'<circle cx="{xy(i, v).split(",")[0]}" cy="{xy(i, v).split(",")[1]}" r="3" '
        'fill="#4477aa"/>'
        for i, v in enumerate(values)
    )
    line = " ".join(xy(i, v) for i, v in enumerate(best))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="black"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>'
        f'<polyline points="{line}" fill="none" stroke="#cc3311" stroke-width="2"/>{dots}'
        f'<text x="{pad}" y="{pad - 10}" font-family="sans-serif" font-size="13">'
        f"{metric} per trial (dots) and best so far (line); max {max(values, default=0):.4f}"
        f"</text>"
        f'<text x="{width / 2}" y="{height - 8}" font-family="sans-serif" font-size="12">'
        "trial</text></svg>"
    )
