"""Train: gensim Word2Vec (item2vec) on the session corpus, in `corpus_file` mode.

The vocabulary comes from the item counts DuckDB already computed
(`build_vocab_from_freq`), so gensim never scans the corpus single-threaded to count it.
Published artifacts carry no pickle: `vectors.npy` (input vectors), `context_vectors.npy`
(output vectors of negative sampling / hierarchical softmax) and `vocab.parquet`
(row -> item_id, count).

    deepwalk.py    random walks over the item-transition graph appended to the corpus
    warmstart.py   a published run's vectors trained further on new sessions (bench)
    adopt.py       the refresh's alternative to training: the published model's vectors
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from gensim.models import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec
from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import AugmentConfig, PipelineConfig, TrainConfig
from recsys.errors import DataQualityError
from recsys.layout import CONTEXT_VECTORS, DEEPWALK_CORPUS, VECTORS, VOCAB, RunPaths
from recsys.ops.interrupt import call_with_timeout
from recsys.stage import (
    Progress,
    StageReport,
    logger,
    report_artifact,
    retry_unless_deterministic,
    timed,
)
from recsys.tasks.train.deepwalk import augment_corpus


class _EpochProgress(CallbackAny2Vec):
    def __init__(self, epochs: int) -> None:
        self.progress = Progress("train", epochs, every_seconds=0)
        self.done = 0

    def on_epoch_end(self, model: Word2Vec) -> None:
        self.done += 1
        self.progress.update(self.done)


def _item_counts(paths: RunPaths) -> tuple[dict[str, int], dict[str, str]]:
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        rows = con.execute("select token, item_id, train_count from items").fetchall()
    counts = {str(token): int(count) for token, _, count in rows}
    item_of = {str(token): item_id for token, item_id, _ in rows}
    return counts, item_of


def fit(corpus: str, counts: dict[str, int], cfg: TrainConfig, callbacks=()) -> Word2Vec:
    """Build the vocabulary from `counts` and train on `corpus` (one session per line)."""
    if cfg.workers == 1 and os.environ.get("PYTHONHASHSEED") is None:
        logger().info("train: PYTHONHASHSEED is unset; set it for bit-identical vectors")
    model = Word2Vec(**cfg.model_dump(exclude={"epochs"}), epochs=cfg.epochs)
    model.build_vocab_from_freq(counts)
    if not model.wv.index_to_key:
        raise DataQualityError(
            f"train: no item reaches train.min_count={cfg.min_count}; nothing to learn"
        )
    kept_words = int(sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key))
    model.train(
        corpus_file=corpus,
        total_words=kept_words,
        epochs=cfg.epochs,
        callbacks=list(callbacks),
    )
    return model


def _augmented(paths: RunPaths, counts: dict[str, int], augment: AugmentConfig):
    """(corpus path, counts) with DeepWalk walks appended when configured."""
    if augment.deepwalk_walks_per_item == 0:
        return paths.corpus, counts
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        edges = sqlrun.run(con, "train/transitions").fetchnumpy()
    out = paths.work_dir / DEEPWALK_CORPUS
    counts = augment_corpus(
        paths.corpus,
        out,
        counts,
        (edges["src"], edges["dst"], edges["n"]),
        augment.deepwalk_walks_per_item,
        augment.deepwalk_walk_length,
        augment.seed,
    )
    return out, counts


def train(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    """Train item2vec on the run's corpus and save vectors, context vectors and vocab.

    With `ops.train_timeout_seconds`, training runs in a child process that is killed at
    the limit (raising `StageTimeout`); the files it writes appear only if it finished.
    """
    timeout = cfg.ops.train_timeout_seconds
    if timeout is None:
        return _train(paths, cfg.train, cfg.augment)
    return call_with_timeout(_train, (paths, cfg.train, cfg.augment), timeout, "train")


def _train(paths: RunPaths, cfg: TrainConfig, augment: AugmentConfig) -> StageReport:
    report = StageReport(name="train")
    with timed(report):
        counts, item_of = _item_counts(paths)
        corpus, counts = _augmented(paths, counts, augment)
        model = fit(str(corpus), counts, cfg, callbacks=[_EpochProgress(cfg.epochs)])
        keys = model.wv.index_to_key
        context = model.syn1neg if cfg.negative > 0 else model.syn1
        np.save(paths.out / VECTORS, model.wv.vectors.astype(np.float32))
        np.save(paths.out / CONTEXT_VECTORS, context.astype(np.float32))
        vocab = pa.table(
            {
                "row": pa.array(range(len(keys)), pa.int64()),
                "item_id": pa.array([item_of[k] for k in keys], pa.string()),
                "count": pa.array([model.wv.get_vecattr(k, "count") for k in keys], pa.int64()),
            }
        )
        pq.write_table(vocab, paths.out / VOCAB)
        report.rows_in = int(sum(counts.values()))
        report.rows_out = len(keys)
        report.details = {
            "corpus_tokens": report.rows_in,
            "vocabulary": len(keys),
            "items_below_min_count": len(counts) - len(keys),
            "epochs": cfg.epochs,
            "vector_size": cfg.vector_size,
            "mode": "skip-gram" if cfg.sg else "CBOW",
            "deepwalk_walks_per_item": augment.deepwalk_walks_per_item,
        }
    report.details["tokens_per_second"] = round(
        report.rows_in * cfg.epochs / max(report.seconds, 1e-9)
    )
    return report


@task(
    name="train",
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def train_task(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    report = train(paths, cfg)
    report_artifact(report)
    return report
