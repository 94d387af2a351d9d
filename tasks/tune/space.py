"""The search space: which settings a trial draws, and the study that draws them.

The space follows "Word2vec applied to Recommendation: Hyperparameters Matter"
(Caselles-Dupré et al. 2018): window, ns_exponent, sample and epochs move results most;
in·out scoring matters most of all on session data (see recsys.model.index).
"""

from __future__ import annotations

import logging
from typing import Any

from recsys.config import PipelineConfig, TrainConfig

KNOBS = ("sg", "window", "negative", "ns_exponent", "sample", "epochs", "vector_size")


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


def current_params(cfg: PipelineConfig) -> dict[str, Any]:
    """The configuration's own point in the space (the search's first trial)."""
    params = {k: getattr(cfg.train, k) for k in (*KNOBS, "alpha", "shrink_windows")}
    return params | {"scoring": cfg.export.scoring}


def new_study(cfg: PipelineConfig):
    """An Optuna study maximising `tune.metric`, seeded, whose first trial is the current
    configuration, so the tuned result is never worse than it on validation."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    sampler = (
        optuna.samplers.TPESampler(seed=cfg.tune.seed)
        if cfg.tune.sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=cfg.tune.seed)
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(current_params(cfg))
    return study
