"""Warm start: continue training a model's vectors on new sessions only.

gensim can grow a trained model's vocabulary (`build_vocab_from_freq(update=True)`) and keep
training; run folders carry no pickle, so the model is rebuilt from the run's
`vectors.npy`, `context_vectors.npy` and `vocab.parquet` (item ids and counts). Item ids are
the stable key across runs (corpus tokens are per run). Two uses:

- `train.refit=warm`: after the gate, the evaluated model continues on the held-out tail's
  sessions (the validation and test splits) instead of a second full training;
- `train.init=champion`: a scheduled run continues the champion's evaluated vectors on the
  training sessions newer than the champion's training data.

Time and HR@20 against full trainings: docs/performance.md, `bench/bench_warm.py`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from gensim.models import Word2Vec

from recsys import sqlrun
from recsys.config import TrainConfig
from recsys.layout import (
    EVALUATED_PREFIX,
    EXTRACT_REPORT,
    MODEL_FILES,
    VECTORS,
    VOCAB,
    RunPaths,
    runs_dir,
)
from recsys.model import store
from recsys.model.embedding import Embedding

# Splits a warm refit continues on: everything after the training split.
TAIL_SPLITS = ["validation", "test"]


def from_run(
    run_dir: Path,
    cfg: TrainConfig,
    token_of: dict[str, str],
    max_session_length: int = 200,
    prefix: str = "",
) -> Word2Vec:
    """A trainable Word2Vec holding a run's vectors (the `prefix` copy of its files), keyed
    by this run's corpus tokens.

    Items of the old run that this run's corpus does not know keep their vectors under a
    `~<item_id>` key, which never occurs in a corpus line.
    """
    old = Embedding.load(run_dir, prefix)
    if old.vectors.shape[1] != cfg.vector_size:
        raise ValueError(
            f"warm start needs train.vector_size={old.vectors.shape[1]} (the old run's)"
        )
    counts = pq.read_table(Path(run_dir) / (prefix + VOCAB), columns=["count"]).column(0)
    keys = [token_of.get(item, f"~{item}") for item in old.item_ids.tolist()]
    model = Word2Vec(**cfg.gensim_kwargs(max_session_length))
    model.build_vocab_from_freq(dict(zip(keys, counts.to_numpy().tolist(), strict=True)))
    rows = np.array([model.wv.key_to_index[k] for k in keys])
    model.wv.vectors[rows] = old.vectors
    model.syn1neg[rows] = old.context
    return model


def continue_training(
    model: Word2Vec, corpus: Path, new_counts: dict[str, int], epochs: int, callbacks=()
) -> Word2Vec:
    """Add the new corpus's items to the vocabulary (counts of known items are added up)
    and train on the new corpus only; nothing to do for an empty corpus."""
    total = int(sum(new_counts.values()))
    if total == 0:
        return model
    model.build_vocab_from_freq(new_counts, update=True)
    model.train(
        corpus_file=str(corpus), total_words=total, epochs=epochs, callbacks=list(callbacks)
    )
    return model


def write_corpus(
    paths: RunPaths, splits: list[str], since: datetime | None, corpus: Path
) -> tuple[dict[str, int], dict[str, str]]:
    """Write the corpus of the sessions of `splits` starting at or after `since` (None:
    all of them); returns (token -> count, token -> item id) of its vocabulary."""
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        sqlrun.run(con, "train/warm_events", {"splits": splits, "since": since})
        sqlrun.run(con, "train/warm_items")
        params = {"path": str(corpus), "splits": splits}
        idents = {"vocabulary": "warm_items", "events": "warm_events"}
        sqlrun.run(con, "extract/corpus", params, idents=idents)
        rows = con.execute("select token, item_id, n from warm_items").fetchall()
    return {str(t): int(n) for t, _, n in rows}, {str(t): item for t, item, _ in rows}


def champion_start(paths: RunPaths, cfg: TrainConfig) -> tuple[Path, str, datetime | None] | str:
    """(the champion's folder, the prefix of its evaluated model, the time its training
    data ends) for `train.init=champion`, or the reason a warm start is not possible.

    The champion's evaluated model learnt from the events before its training split ended,
    which must not be after this run's training split ends: then it would have seen events
    this run holds out, and the gate would be fooled."""
    try:
        run = store.current_run(paths.data_dir)
    except Exception as exc:
        return f"no published champion ({type(exc).__name__})"
    prefix = EVALUATED_PREFIX if (run / (EVALUATED_PREFIX + VECTORS)).is_file() else ""
    try:  # what is read is checked against the manifest, as a refresh's adopt does
        manifest = store.verify(run, hashed={prefix + name for name in MODEL_FILES})
    except Exception as exc:
        return f"champion {run.name} does not verify ({exc})"
    dim = np.load(run / (prefix + VECTORS), mmap_mode="r").shape[1]
    if dim != cfg.vector_size:
        return f"champion has vector_size {dim}, this run {cfg.vector_size}"
    # A refresh republishes an older run's vectors: its training data is that run's.
    source = runs_dir(paths.data_dir) / manifest.get("model_run", run.name)
    ended = _train_end(source if source.is_dir() else run)
    if ended is None:
        return "the champion's training period is unknown (no extract.json)"
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        mine = con.execute("select max(ts) from events where split = 'train'").fetchone()[0]
    if mine is None or ended > mine:
        return f"the champion trained on events up to {ended}, after this run's training split"
    return run, prefix, ended


def _train_end(run: Path) -> datetime | None:
    """When the training split of a run's extraction ended (its first held-out cut)."""
    try:
        details = json.loads((run / EXTRACT_REPORT).read_text())["details"]
    except (OSError, ValueError, KeyError):
        return None
    cut = details.get("validation_cut_ts") or details.get("cut_ts")
    return datetime.fromisoformat(cut) if cut else None
