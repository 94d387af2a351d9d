"""Refit: once the gate has passed the model trained on the training split, train the same
settings again on every event (`train.refit=full`), or continue the evaluated model on the
held-out tail's sessions only (`warm`), and publish that model.

The held-out tail decides whether a configuration is good enough; the published model
should still learn from the newest behaviour, which predicts the next events best (on
ml-100k's true future: +2-3% HR@20, docs/evaluation.md). The evaluated model's files are
kept beside the served ones (`evaluated_*`): a later run re-scores this run as its champion
with them, because the refit model has seen events that a later run may hold out. The
embedding sanity rules of the gate run again on the refit vectors; a refit that fails them
stops the run (exit 4) and the champion stays.
"""

from __future__ import annotations

import os

import numpy as np
from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import PipelineConfig
from recsys.errors import GateRefused
from recsys.layout import (
    CONTEXT_VECTORS,
    EVALUATED_PREFIX,
    MODEL_FILES,
    REFIT_CORPUS,
    VECTORS,
    WARM_CORPUS,
    RunPaths,
)
from recsys.stage import StageReport, logger, report_artifact, retry_unless_deterministic
from recsys.tasks.evaluate.gate import embedding_verdicts
from recsys.tasks.train import run_training
from recsys.tasks.train.warmstart import TAIL_SPLITS, write_corpus


def keep_evaluated(paths: RunPaths) -> None:
    """Rename the evaluated model's files to `evaluated_*` (idempotent: a retry after the
    rename finds them there)."""
    for name in MODEL_FILES:
        source, kept = paths.out / name, paths.out / (EVALUATED_PREFIX + name)
        if source.exists() and not kept.exists():
            os.replace(source, kept)


def refit(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    """Train on every split's sessions (`full`) or continue the evaluated model on the
    held-out splits' sessions (`warm`); the served model's files replace the evaluated
    model's, which are kept as `evaluated_*`. With `train.refit=off` the evaluated model is
    served as it is (and kept under both names, so a champion always has both)."""
    if cfg.train.refit == "off":
        for name in MODEL_FILES:
            kept = paths.out / (EVALUATED_PREFIX + name)
            if not kept.exists():
                kept.write_bytes((paths.out / name).read_bytes())
        return StageReport(name="refit", details={"refit": "off: the evaluated model is served"})
    keep_evaluated(paths)
    if cfg.train.refit == "warm":
        corpus = paths.work_dir / WARM_CORPUS
        counts, item_of = write_corpus(paths, TAIL_SPLITS, None, corpus)
        warm = (paths.out, EVALUATED_PREFIX)
    else:
        corpus, warm = paths.work_dir / REFIT_CORPUS, None
        with sqlrun.connect(paths.stage_db, read_only=True) as con:
            sqlrun.run(con, "train/refit_items")
            params = {"path": str(corpus), "splits": ["train", "validation", "test"]}
            idents = {"vocabulary": "refit_items", "events": "events"}
            sqlrun.run(con, "extract/corpus", params, idents=idents)
            rows = con.execute("select token, item_id, n from refit_items").fetchall()
        counts = {str(token): int(n) for token, _, n in rows}
        item_of = {str(token): item for token, item, _ in rows}
    report = run_training(paths, cfg, "refit", corpus, counts, item_of, paths.out, warm)
    report.details["refit"] = cfg.train.refit
    corpus.unlink(missing_ok=True)
    vectors = np.load(paths.out / VECTORS)
    context = np.load(paths.out / CONTEXT_VECTORS)
    rules = embedding_verdicts(vectors, context, cfg.gate)
    report.details["sanity"] = "passed" if all(r["passed"] for r in rules) else "FAILED"
    failed = [r for r in rules if not r["passed"]]
    if failed:
        what = "; ".join(f"{r['rule']}: {r['observed']}" for r in failed)
        message = f"refit model failed the embedding sanity rules ({what})"
        if cfg.gate.enforce:
            raise GateRefused(
                message + "; the champion stays (set train.refit=off to serve the evaluated model)"
            )
        logger().warning("%s; gate.enforce=false: publishing", message)
    return report


@task(
    name="refit",
    retries=1,
    retry_delay_seconds=10,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def refit_task(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    report = refit(paths, cfg)
    report_artifact(report)
    return report
