"""Train: gensim Word2Vec (item2vec) on the session corpus, in `corpus_file` mode.

The vocabulary comes from the item counts DuckDB already computed
(`build_vocab_from_freq`), so gensim never scans the corpus single-threaded to count it.
Published artifacts carry no pickle: `vectors.npy` (input vectors), `context_vectors.npy`
(output vectors of negative sampling / hierarchical softmax) and `vocab.parquet`
(row -> item_id, count).

    refit.py       after the gate: the model trained again (or further) on every event
    deepwalk.py    random walks over the item-transition graph appended to the corpus
    warmstart.py   a model's vectors trained further on new sessions only (refit=warm,
                   init=champion)
    adopt.py       the refresh's alternative to training: the published model's vectors
"""

from __future__ import annotations

import os
from pathlib import Path

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
from recsys.layout import CONTEXT_VECTORS, DEEPWALK_CORPUS, VECTORS, VOCAB, WARM_CORPUS, RunPaths
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
from recsys.tasks.train.warmstart import champion_start, continue_training, from_run, write_corpus

# A warm start: (the folder of the model to continue, the prefix of its files there).
Warm = tuple[Path, str]


class _EpochProgress(CallbackAny2Vec):
    def __init__(self, epochs: int, label: str = "train") -> None:
        self.progress = Progress(label, epochs, every_seconds=0)
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


def fit(
    corpus: str,
    counts: dict[str, int],
    cfg: TrainConfig,
    callbacks=(),
    max_session_length: int = 200,
) -> Word2Vec:
    """Build the vocabulary from `counts` and train on `corpus` (one session per line);
    `max_session_length` is the window of `train.window=session`."""
    if cfg.workers == 1 and os.environ.get("PYTHONHASHSEED") is None:
        logger().info("train: PYTHONHASHSEED is unset; set it for bit-identical vectors")
    model = Word2Vec(**cfg.gensim_kwargs(max_session_length))
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


def _augmented(
    paths: RunPaths, corpus: Path, counts: dict[str, int], augment: AugmentConfig
) -> tuple[Path, dict[str, int]]:
    """(corpus path, counts) with DeepWalk walks appended when configured."""
    if augment.deepwalk_walks_per_item == 0:
        return corpus, counts
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        edges = sqlrun.run(con, "train/transitions").fetchnumpy()
    out = paths.work_dir / f"{corpus.stem}-{DEEPWALK_CORPUS}"
    counts = augment_corpus(
        corpus,
        out,
        counts,
        (edges["src"], edges["dst"], edges["n"]),
        augment.deepwalk_walks_per_item,
        augment.deepwalk_walk_length,
        augment.seed,
    )
    return out, counts


def train(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    """Train item2vec on the run's training corpus and save vectors, context vectors and
    vocab into the run folder; with `train.init=champion`, continue the champion's vectors
    on the newer training sessions instead, when it can (see warmstart.champion_start).

    With `ops.train_timeout_seconds`, training runs in a child process that is killed at
    the limit (raising `StageTimeout`); the files it writes appear only if it finished.
    """
    if cfg.train.init == "champion":
        start = champion_start(paths, cfg.train)
        if not isinstance(start, str):
            run, prefix, since = start
            corpus = paths.work_dir / WARM_CORPUS
            counts, item_of = write_corpus(paths, ["train"], since, corpus)
            report = run_training(
                paths, cfg, "train", corpus, counts, item_of, paths.out, (run, prefix)
            )
            corpus.unlink(missing_ok=True)
            report.details["init"] = f"champion {run.name}: sessions since {since}"
            return report
        logger().info("train: no warm start from the champion (%s): training from scratch", start)
    counts, item_of = _item_counts(paths)
    report = run_training(paths, cfg, "train", paths.corpus, counts, item_of, paths.out)
    if cfg.train.init == "champion":
        report.details["init"] = f"scratch: {start}"
    return report


def run_training(
    paths: RunPaths,
    cfg: PipelineConfig,
    name: str,
    corpus: Path,
    counts: dict[str, int],
    item_of: dict[str, str],
    out: Path,
    warm: Warm | None = None,
) -> StageReport:
    """Train on `corpus` (tokens counted in `counts`, token -> item id in `item_of`) and
    write the model files into `out`, under the run's time budget (the train stage and the
    refit share it); `warm` continues that model for `train.warm_epochs` epochs instead."""
    args = (paths, cfg, name, corpus, counts, item_of, out, warm)
    timeout = cfg.ops.train_timeout_seconds
    if timeout is None:
        return _train(*args)
    return call_with_timeout(_train, args, timeout, name)


def _train(
    paths: RunPaths,
    cfg: PipelineConfig,
    name: str,
    corpus: Path,
    counts: dict[str, int],
    item_of: dict[str, str],
    out: Path,
    warm: Warm | None,
) -> StageReport:
    report = StageReport(name=name)
    tc = cfg.train
    epochs = tc.warm_epochs if warm else tc.epochs
    with timed(report):
        if warm is None:
            corpus, counts = _augmented(paths, corpus, counts, cfg.augment)
            model = fit(
                str(corpus),
                counts,
                tc,
                callbacks=[_EpochProgress(epochs, name)],
                max_session_length=cfg.extract.max_session_length,
            )
        else:
            token_of = {item: token for token, item in item_of.items()}
            model = from_run(warm[0], tc, token_of, cfg.extract.max_session_length, warm[1])
            continue_training(model, corpus, counts, epochs, [_EpochProgress(epochs, name)])
        keys = model.wv.index_to_key
        context = model.syn1neg if tc.negative > 0 else model.syn1
        np.save(out / VECTORS, model.wv.vectors.astype(np.float32))
        np.save(out / CONTEXT_VECTORS, context.astype(np.float32))
        vocab = pa.table(
            {
                "row": pa.array(range(len(keys)), pa.int64()),
                # A warm start keeps items its new sessions lack under `~<item_id>`.
                "item_id": pa.array([item_of.get(k) or k[1:] for k in keys], pa.string()),
                "count": pa.array([model.wv.get_vecattr(k, "count") for k in keys], pa.int64()),
            }
        )
        pq.write_table(vocab, out / VOCAB)
        report.rows_in = int(sum(counts.values()))
        report.rows_out = len(keys)
        report.details = {
            "corpus_tokens": report.rows_in,
            "vocabulary": len(keys),
            "items_below_min_count": len(counts) - len(keys) if warm is None else 0,
            "epochs": epochs,
            "warm_start": warm is not None,
            "vector_size": tc.vector_size,
            "mode": "skip-gram" if tc.sg else "CBOW",
            "window": tc.window,
            "deepwalk_walks_per_item": cfg.augment.deepwalk_walks_per_item,
        }
    report.details["tokens_per_second"] = round(report.rows_in * epochs / max(report.seconds, 1e-9))
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
