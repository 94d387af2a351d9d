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
import pyarrow as pa
from gensim.models.callbacks import CallbackAny2Vec

from recsys import sqlrun
from recsys.config import ChannelWeights, PipelineConfig
from recsys.model.embedding import Embedding
from recsys.model.scoring import decay_weights, fuse
from recsys.tasks.evaluate import list_depth
from recsys.tasks.evaluate.hits import open_cases
from recsys.tasks.evaluate.lists import channels_of
from recsys.tasks.evaluate.ranks import item_cases, session_cases
from recsys.tasks.train import fit
from recsys.tasks.tune.validation import TuneSetup

# (embedding, count, popularity): the embedding alone and with the others mixed in, and the
# count channel or popularity alone (so a search can never end below those baselines).
WEIGHT_GRID = [
    *((1.0, count, pop) for count in (0.0, 0.25, 0.5, 1.0, 2.0) for pop in (0.0, 0.1, 0.3)),
    (0.0, 1.0, 0.0),
    (0.0, 1.0, 0.1),
    (0.0, 0.0, 1.0),
]
DECAYS = (0.5, 0.7, 0.85, 1.0)


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
    the `scoring` space on the validation cases, with their metrics."""
    metric, depth = cfg.tune.metric, list_depth(cfg.evaluate)
    ks, exclude = setup.ks, cfg.evaluate.exclude_session_items
    with open_cases(setup.stage_db, setup.session_cases) as con:
        sqlrun.run(con, "evaluate/all_lists", {"path": str(setup.lists_path)})
        counts = sqlrun.arrow(con, "evaluate/channel_lists", {"source": setup.count_channel})
        items, queries = item_cases(con, emb)
        prefix = con.sql("select pair_id, item_id, recency from session_prefix").to_arrow_table()
        recent = _SessionQueries(emb, prefix, cfg.export.user_history)
        sessions = session_cases(con, emb, recent.cases)
    channels = channels_of(emb, scoring, counts, emb.counts)
    parts = channels.for_items(queries, depth)
    item = [items.rates(fuse(parts, w, depth)[0], ks, exclude) for w in WEIGHT_GRID]
    default = cfg.export.session_weights.of()
    by_decay = [
        sessions.rates(fuse(recent.channels(channels, d, depth), default, depth)[0], ks, exclude)
        for d in DECAYS
    ]
    decay = DECAYS[_argmax([m[metric] for m in by_decay])]
    parts = recent.channels(channels, decay, depth)
    session = [sessions.rates(fuse(parts, w, depth)[0], ks, exclude) for w in WEIGHT_GRID]
    return _pick(item, session if len(sessions) else [], decay, setup, cfg)


def _argmax(values: list[float]) -> int:
    """Index of the largest value (the first of ties: grids list the simpler option first)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def _pick(item: list, session: list, decay: float, setup: TuneSetup, cfg) -> dict[str, Any]:
    metric, objective = cfg.tune.metric, cfg.tune.objective
    best_item = max((m[metric] for m in setup.item_baselines.values()), default=0.0)
    best_session = max((m[metric] for m in setup.session_baselines.values()), default=0.0)
    i = _argmax([m[metric] for m in item])
    ratios = {"item": item[i][metric] / best_item if best_item else 0.0}
    s = None
    if session:
        s = _argmax([m[metric] for m in session])
        ratios["session"] = session[s][metric] / best_session if best_session else 0.0
    if objective == "both":
        value = sum(ratios.values()) / len(ratios)
    else:
        value = ratios.get(objective, 0.0)
    names = list(ChannelWeights.model_fields)
    return {
        "item_weights": dict(zip(names, WEIGHT_GRID[i], strict=True)),
        "session_weights": (
            dict(zip(names, WEIGHT_GRID[s], strict=True))
            if s is not None
            else cfg.export.session_weights.model_dump()
        ),
        "recency_decay": decay,
        "value": value,
        "ratios": ratios,
        "metrics": {"item": item[i], "session": session[s] if s is not None else {}},
    }


class _SessionQueries:
    """The validation session cases as (owner, row, recency) of their known recent items;
    `cases` are the pair ids that have at least one, in list order."""

    def __init__(self, emb: Embedding, prefix: pa.Table, history: int) -> None:
        pair = prefix.column("pair_id").to_numpy()
        rows = emb.rows(prefix.column("item_id").to_pylist())
        recency = prefix.column("recency").to_numpy()
        keep = (rows >= 0) & (recency < history)
        self.cases, self.owner = np.unique(pair[keep], return_inverse=True)
        self.rows, self.recency = rows[keep], recency[keep]

    def channels(self, channels, decay: float, depth: int):
        weights = decay_weights(self.recency, decay)
        return channels.for_sessions(self.owner, self.rows, weights, len(self.cases), depth)
