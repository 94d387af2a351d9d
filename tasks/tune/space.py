"""The search space of the training knobs, and the study that draws them.

The space follows "Word2vec applied to Recommendation: Hyperparameters Matter"
(Caselles-Dupré et al. 2018): ns_exponent down to -1 (their largest gains), epochs up to 150,
sample from 1e-5 to 1e-2, windows up to the whole session (the basket mode); plus the
choices that matter on session data, and the scoring space. How the channels are weighted
is not drawn here: each trial chooses it on a grid (trial.py), since it needs no
retraining.
"""

from __future__ import annotations

import logging
from typing import Any

from recsys.config import PipelineConfig

KNOBS = (
    "sg",
    "window",
    "negative",
    "ns_exponent",
    "sample",
    "epochs",
    "vector_size",
    "alpha",
    "shrink_windows",
)


# The categorical knobs' choices; a configuration's own value joins them (space_for).
CHOICES: dict[str, list] = {
    "sg": [0, 1],
    "window": [2, 3, 5, 10, 20, "session"],
    "negative": [5, 10, 20],
    "sample": [0.0, 1e-5, 1e-4, 1e-3, 1e-2],
    "epochs": [5, 10, 20, 40, 80, 150],
    "vector_size": [32, 64, 128],
    "shrink_windows": [True, False],
    # sym_in_out is not drawn: every sym trial scores its item lists both ways (trial.py).
    "scoring": ["sym", "in_out", "in_in"],
}


def space_for(cfg: PipelineConfig) -> dict[str, list]:
    """CHOICES with the configuration's own values added: its point is the first trial,
    and Optuna refuses a trial whose value is not among the choices (`train.epochs=3`)."""
    current = current_params(cfg)
    return {k: v if current[k] in v else [*v, current[k]] for k, v in CHOICES.items()}


def suggest(trial: Any, choices: dict[str, list]) -> dict[str, Any]:
    """Draw one configuration of gensim knobs from an Optuna trial (`choices`: space_for,
    the same for every trial of a study)."""
    pick = {k: trial.suggest_categorical(k, v) for k, v in choices.items()}
    return {
        **pick,
        # Stepped and log-scaled floats; a configured value off the grid is still tried
        # first (Optuna warns and uses it).
        "ns_exponent": trial.suggest_float("ns_exponent", -1.0, 1.0, step=0.25),
        # CBOW averages its context and wants a larger step (gensim's defaults differ too).
        "alpha": trial.suggest_float("alpha", 0.005, 0.1, log=True),
    }


def current_params(cfg: PipelineConfig) -> dict[str, Any]:
    """The configuration's own point in the space (the search's first trial)."""
    return {k: getattr(cfg.train, k) for k in KNOBS} | {"scoring": cfg.export.scoring}


def new_study(cfg: PipelineConfig):
    """An Optuna study maximising the trial value, seeded, whose first trial is the current
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
