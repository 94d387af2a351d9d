"""Warm start: continue training a published model's vectors on new sessions.

gensim can grow a trained model's vocabulary (`build_vocab_from_freq(update=True)`) and keep
training; published runs carry no pickle, so the model is rebuilt from the run's
`vectors.npy`, `context_vectors.npy` and `vocab.parquet` (item ids and counts). Item ids are
the stable key across runs (corpus tokens are per run). Measured against a full retrain in
`make bench ARGS=train`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from gensim.models import Word2Vec

from recsys.config import TrainConfig
from recsys.layout import VOCAB
from recsys.model.embedding import Embedding


def from_run(
    run_dir: Path, cfg: TrainConfig, token_of: dict[str, str], max_session_length: int = 200
) -> Word2Vec:
    """A trainable Word2Vec holding a run's vectors, keyed by this run's corpus tokens.

    Items of the old run that this run's corpus does not know keep their vectors under a
    `~<item_id>` key, which never occurs in a corpus line.
    """
    old = Embedding.load(run_dir)
    if old.vectors.shape[1] != cfg.vector_size:
        raise ValueError(
            f"warm start needs train.vector_size={old.vectors.shape[1]} (the old run's)"
        )
    counts = pq.read_table(Path(run_dir) / VOCAB, columns=["count"]).column(0).to_numpy()
    keys = [token_of.get(item, f"~{item}") for item in old.item_ids.tolist()]
    model = Word2Vec(**cfg.gensim_kwargs(max_session_length))
    model.build_vocab_from_freq(dict(zip(keys, counts.tolist(), strict=True)))
    rows = np.array([model.wv.key_to_index[k] for k in keys])
    model.wv.vectors[rows] = old.vectors
    model.syn1neg[rows] = old.context
    return model


def continue_training(
    model: Word2Vec, corpus: Path, new_counts: dict[str, int], epochs: int
) -> Word2Vec:
    """Add the new corpus's items to the vocabulary and train on the new corpus only."""
    model.build_vocab_from_freq(new_counts, update=True)
    total = int(sum(new_counts.values()))
    model.train(corpus_file=str(corpus), total_words=total, epochs=epochs)
    return model
