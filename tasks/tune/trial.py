"""One trial: train item2vec with a trial's settings on the validation stage's training part,
then choose how the trained vectors are served, scored on its held-out tail with the
evaluate stage's own code. The test split is never read.

Serving choices cost no retraining, so each trial searches them on a grid (Caselles-Dupré
et al. 2018: how vectors are scored matters as much as how they are trained): the channel
weights of the item lists and of the session lists, and the session decay (the scoring
space is drawn by the study: it changes the index). The trial's value is the chosen
combination's metric relative to the strongest tuned baseline of each kind
(`tune.objective`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from gensim.models.callbacks import CallbackAny2Vec

from recsys.config import PipelineConfig
from recsys.model.embedding import Embedding
from recsys.model.index import ITEM_SCORINGS
from recsys.tasks.evaluate import list_depth
from recsys.tasks.evaluate.choice import Grid, best_choice, serving_grid
from recsys.tasks.evaluate.hits import open_cases
from recsys.tasks.evaluate.lists import channels_of
from recsys.tasks.evaluate.ranks import item_cases
from recsys.tasks.train import fit
from recsys.tasks.tune.validation import TuneSetup

CHECKPOINTS = (5, 10, 20, 40, 80)


class _Stop(Exception):
    """Raised by the callback to end a trial's training at an epoch boundary."""


class _EarlyStop(CallbackAny2Vec):
    """Scores the embedding alone on the validation cases at a few epochs (CHECKPOINTS) and
    ends training when it stops improving (Caselles-Dupré et al. 2018 found 150 epochs worth
    it on some logs and harmful on others); also ends it after the epoch that passes
    `deadline` (gensim's C loop cannot be interrupted inside an epoch). `best` keeps the
    vectors of the best checkpoint and its epoch."""

    def __init__(self, deadline: float | None, total: int, score) -> None:
        self.deadline, self.total, self.score = deadline, total, score
        self.epochs, self.best, self.value, self.worse = 0, None, -1.0, False

    def on_epoch_end(self, model) -> None:
        self.epochs += 1
        self.model = model  # what a stopped trial scores
        if self.epochs in CHECKPOINTS and self.epochs < self.total:
            value = self.score(model)
            if value <= self.value:
                self.worse = True
                raise _Stop
            self.value = value
            context = model.syn1neg if model.negative > 0 else model.syn1
            self.best = (self.epochs, model.wv.vectors.copy(), context.copy())
        if self.deadline is not None and time.time() > self.deadline:
            raise _Stop

    def restore(self) -> int:
        """After an early stop, put the best checkpoint's vectors back; the epochs the
        trial's vectors had (all of them when training ran to its end)."""
        if not self.worse:
            return self.epochs
        epochs, vectors, context = self.best
        self.model.wv.vectors[:] = vectors
        (self.model.syn1neg if self.model.negative > 0 else self.model.syn1)[:] = context
        return epochs


def run_trial(
    params: dict[str, Any],
    setup: TuneSetup,
    cfg: PipelineConfig,
    *,
    full: bool = False,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Train with `params` (gensim knobs) on the (sampled, unless `full`) validation corpus,
    then choose the serving settings; training stops early once `deadline` (a `time.time()`
    value: trials may run in other processes) has passed, and the epochs it got are
    recorded."""
    train_cfg = cfg.train.model_copy(update={k: v for k, v in params.items() if k != "scoring"})
    sampled = setup.sample_corpus is not None and not full
    corpus = setup.sample_corpus if sampled else setup.corpus
    counts = setup.sample_counts if sampled else setup.counts
    start = time.perf_counter()
    scoring = params.get("scoring", cfg.export.scoring)
    stopper = _EarlyStop(deadline, train_cfg.epochs, _Checkpoint(setup, cfg, scoring))
    try:
        model = fit(
            str(corpus),
            counts,
            train_cfg,
            callbacks=[stopper],
            max_session_length=cfg.extract.max_session_length,
        )
    except _Stop:
        model = stopper.model
    epochs = stopper.restore()
    keys = model.wv.index_to_key
    context = model.syn1neg if train_cfg.negative > 0 else model.syn1
    emb = Embedding(
        model.wv.vectors.copy(),
        np.asarray([setup.item_of[k] for k in keys], dtype=object),
        context.copy(),
        np.array([model.wv.get_vecattr(k, "count") for k in keys]),
    )
    chosen = choose_serving(emb, setup, cfg, scoring)
    return {
        "params": {k: v for k, v in params.items() if k != "scoring"} | {"epochs": epochs},
        "scoring": scoring,
        **chosen,
        "seconds": round(time.perf_counter() - start, 3),
        "sampled": sampled,
    }


class _Checkpoint:
    """The early-stopping score: HR of the embedding alone on (at most 5,000 of) the
    validation next-item cases, at the search's cut-off."""

    def __init__(self, setup: TuneSetup, cfg: PipelineConfig, scoring: str) -> None:
        self.setup, self.cfg, self.scoring, self.cases = setup, cfg, scoring, None

    def __call__(self, model) -> float:
        keys = model.wv.index_to_key
        context = model.syn1neg if model.negative > 0 else model.syn1
        emb = Embedding(
            model.wv.vectors,
            np.asarray([self.setup.item_of[k] for k in keys], dtype=object),
            context,
        )
        if self.cases is None:  # the vocabulary is fixed once training started
            with open_cases(self.setup.stage_db, 0) as con:
                self.cases = item_cases(con, emb)
        cases, queries = self.cases
        depth = list_depth(self.cfg.evaluate)
        ids = channels_of(emb, self.scoring, None, emb.counts).for_items(queries, depth)[0][0]
        k = int(self.cfg.tune.metric.split("@")[1])
        return cases.rates(ids, [k], self.cfg.evaluate.exclude_session_items)[f"hr@{k}"]


def choose_serving(
    emb: Embedding, setup: TuneSetup, cfg: PipelineConfig, scoring: str
) -> dict[str, Any]:
    """The best item and session channel weights and session decay for these vectors in
    the `scoring` space on the validation cases (tasks/evaluate/choice.py), with their
    metrics; under ``sym`` or ``sym_in_out`` also which of the two the item lists take
    (one index, no retraining)."""
    grid = serving_grid(
        setup.stage_db,
        emb,
        scoring,
        cfg,
        setup.lists_path,
        setup.count_channel,
        setup.session_cases,
        cfg.tune.metric,
        item_scorings=ITEM_SCORINGS if scoring in ITEM_SCORINGS else (),
    )
    return _pick(grid, setup, cfg) | {"scoring": grid.item_scoring}


def _pick(grid: Grid, setup: TuneSetup, cfg) -> dict[str, Any]:
    metric, objective = cfg.tune.metric, cfg.tune.objective
    best_item = max((m[metric] for m in setup.item_baselines.values()), default=0.0)
    best_session = max((m[metric] for m in setup.session_baselines.values()), default=0.0)
    best = best_choice(grid, metric, cfg)
    scored, chosen = best["scored"], best["export"]
    ratios = {"item": scored["item"] / best_item if best_item else 0.0}
    if "session" in scored:
        ratios["session"] = scored["session"] / best_session if best_session else 0.0
    if objective == "both":
        value = sum(ratios.values()) / len(ratios)
    else:
        value = ratios.get(objective, 0.0)
    return {
        "item_weights": chosen["item_weights"],
        "session_weights": chosen.get("session_weights", cfg.export.session_weights.model_dump()),
        "recency_decay": grid.decay,
        "value": value,
        "ratios": ratios,
        "metrics": {"item": best["metrics"]["item"], "session": best["metrics"].get("session", {})},
    }
