"""Training benchmarks (issue: item2vec training that wins).

1. Speed: the train stage (vocabulary from DuckDB's counts + `corpus_file` training) against
   plain gensim on the same corpus and knobs: `Word2Vec(corpus_file=...)` (which scans the
   corpus single-threaded to build the vocabulary, then trains) and the common iterable form
   `Word2Vec(LineSentence(...))`. Same result quality is checked by HR@20 on the held-out
   pairs. Goal: stage <= 0.8x plain gensim.
2. Quality: HR@20 with and without DeepWalk augmentation, and in·in vs in·out scoring, on
   MovieLens-100K and on the synthetic planted-topic set.
3. Warm start from a champion's published vectors vs a full retrain (quality and time).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

from recsys import sqlrun
from recsys.config import AugmentConfig, PipelineConfig
from recsys.data.movielens import ml100k_events
from recsys.data.synthetic import generate, write
from recsys.layout import CONTEXT_VECTORS, VECTORS, VOCAB, RunPaths
from recsys.model.embedding import Embedding
from recsys.tasks.extract import extract
from recsys.tasks.train import _augmented, _item_counts, fit
from recsys.tasks.train.warmstart import continue_training, from_run
from recsys.tasks.tune.trial import score

ML100K = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"


def _stage(events: Path, root: Path) -> RunPaths:
    cfg = PipelineConfig()
    paths = RunPaths.new(root, str(events))
    extract(paths, cfg)
    return paths


def _hr(paths: RunPaths, model: Word2Vec, item_of: dict[str, str], scoring: str) -> float:
    keys = model.wv.index_to_key
    emb = Embedding(
        model.wv.vectors, np.asarray([item_of[k] for k in keys], dtype=object), model.syn1neg
    )
    return score(paths.stage_db, emb, scoring, [20])["item2vec"]["hr@20"]


def speed(events: int, root: Path) -> list[dict]:
    paths = _stage(write(generate(events, 20_000, seed=1), root / "events.parquet"), root)
    cfg = PipelineConfig().train.model_copy(update={"workers": 2})
    knobs = cfg.model_dump(exclude={"epochs"})
    rows = []
    start = time.perf_counter()
    counts, item_of = _item_counts(paths)
    model = fit(str(paths.corpus), counts, cfg)
    stage = time.perf_counter() - start
    tokens = sum(counts.values())
    rows.append(_row("train stage (DuckDB counts)", tokens, stage, stage, paths, model, item_of))
    start = time.perf_counter()
    plain = Word2Vec(corpus_file=str(paths.corpus), epochs=cfg.epochs, **knobs)
    ref = time.perf_counter() - start
    rows.append(_row("gensim corpus_file", tokens, ref, stage, paths, plain, item_of))
    start = time.perf_counter()
    iterable = Word2Vec(LineSentence(str(paths.corpus)), epochs=cfg.epochs, **knobs)
    rows.append(
        _row(
            "gensim LineSentence",
            tokens,
            time.perf_counter() - start,
            stage,
            paths,
            iterable,
            item_of,
        )
    )
    return rows


def _row(name, tokens, seconds, stage, paths, model, item_of) -> dict:
    return {
        "benchmark": "speed",
        "variant": name,
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "stage / this": round(stage / seconds, 3),
        "HR@20": round(_hr(paths, model, item_of, "in_out"), 4),
    }


def quality(name: str, events: Path, root: Path) -> list[dict]:
    paths = _stage(events, root)
    cfg = PipelineConfig().train
    counts, item_of = _item_counts(paths)
    rows = []
    for walks in (0, 10):
        corpus, used = _augmented(paths, counts, AugmentConfig(deepwalk_walks_per_item=walks))
        model = fit(str(corpus), used, cfg)
        for scoring in ("in_out", "in_in"):
            rows.append(
                {
                    "benchmark": "quality",
                    "data": name,
                    "deepwalk walks/item": walks,
                    "scoring": scoring,
                    "HR@20": round(_hr(paths, model, item_of, scoring), 4),
                }
            )
    return rows


def _file_counts(path: Path) -> dict[str, int]:
    counts: Counter[str] = Counter()
    with open(path) as handle:
        for line in handle:
            counts.update(line.split())
    return dict(counts)


def _save_run(model: Word2Vec, item_of: dict[str, str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    keys = model.wv.index_to_key
    np.save(folder / VECTORS, model.wv.vectors)
    np.save(folder / CONTEXT_VECTORS, model.syn1neg)
    table = {"item_id": [item_of[k] for k in keys]}
    table["count"] = [model.wv.get_vecattr(k, "count") for k in keys]
    pq.write_table(pa.table(table), folder / VOCAB)
    return folder


def warm_start(events: Path, root: Path) -> list[dict]:
    """Champion on the first 80% of the training period; then warm start on the last 20%
    versus a full retrain on all of it; HR@20 on the same test split."""
    paths = _stage(events, root)
    cfg = PipelineConfig().train
    counts, item_of = _item_counts(paths)
    token_of = {item: token for token, item in item_of.items()}
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        cut_at = {"old_fraction": 0.8}
        first, cut, end = sqlrun.run(con, "train/warmstart_cut", cut_at).fetchone()
        for name, since, until in (("old", first, cut), ("new", cut, end)):
            out = str(paths.work_dir / f"{name}.txt")
            period = {"since": since, "until": until, "path": out}
            sqlrun.run(con, "train/warmstart_sessions", period)
    old, new = paths.work_dir / "old.txt", paths.work_dir / "new.txt"
    champion = fit(str(old), _file_counts(old), cfg)
    run = _save_run(champion, item_of, root / "champion")
    start = time.perf_counter()
    warm = continue_training(from_run(run, cfg, token_of), new, _file_counts(new), cfg.epochs)
    warm_seconds = time.perf_counter() - start
    start = time.perf_counter()
    full = fit(str(paths.corpus), counts, cfg)
    full_seconds = time.perf_counter() - start
    rows = []
    for name, model, seconds in (
        ("champion (old 80% only)", champion, None),
        ("warm start on new 20%", warm, warm_seconds),
        ("full retrain", full, full_seconds),
    ):
        known = {k: item_of.get(k, k[1:]) for k in model.wv.index_to_key}
        rows.append(
            {
                "benchmark": "warm start (ml-100k)",
                "variant": name,
                "seconds": round(seconds, 2) if seconds else "",
                "HR@20": round(_hr(paths, model, known, "in_out"), 4),
            }
        )
    return rows


def main(quick: bool = False) -> list[dict]:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = speed(1_000_000 if quick else 10_000_000, root / "speed")
        if ML100K.is_dir():
            os.environ.setdefault("RECSYS_ML100K_DIR", str(ML100K))
        movielens = ml100k_events(root / "ml")
        rows += quality("ml-100k", movielens, root / "ml")
        rows += warm_start(movielens, root / "warm")
        synthetic = write(generate(200_000, 2_000, seed=2), root / "syn.parquet")
        rows += quality("synthetic", synthetic, root / "syn")
    return rows
