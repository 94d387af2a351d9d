"""Publish: manifest with sha256 of every file, then the atomic switch of `current`.

Order matters for crash safety: all files are written and hashed, the manifest is written
(to a temporary name, then renamed), the folder is renamed from work/<id>/run to
runs/<id>, and only then is `current` swapped. A crash at any point before the swap leaves
`current` where it was; a crash after it leaves `current` on this complete run.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE

from recsys.config import PipelineConfig
from recsys.errors import GateRefused, PublishError, Superseded
from recsys.layout import (
    COUNT_LISTS,
    EVALUATED_PREFIX,
    INDEX_INFO,
    ITEM_ATTRIBUTES,
    ITEM_RECS,
    MANIFEST,
    METRICS,
    MODEL_FILES,
    REPORTS,
    REQUIRED_FILES,
    RUN_REPORT,
    USER_RECS,
    RunPaths,
    runs_dir,
)
from recsys.model import store
from recsys.stage import (
    StageReport,
    logger,
    report_artifact,
    report_link,
    retry_unless_deterministic,
)
from recsys.tasks.evaluate import compute_metrics, load_champion
from recsys.tasks.evaluate.gate import embedding_stats, gate_verdicts
from recsys.tasks.evaluate.shards import Scored, load_evaluated
from recsys.tasks.rundir import keep_only_reports

PACKAGES = (
    "recsys-item2vec",
    "prefect",
    "duckdb",
    "gensim",
    "faiss-cpu",
    "great-expectations",
    "numpy",
    "pyarrow",
)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def build_manifest(
    paths: RunPaths, cfg: PipelineConfig, stages: list[StageReport], created_at: datetime
) -> dict:
    missing = [f for f in REQUIRED_FILES if not (paths.out / f).is_file()]
    if missing:
        raise PublishError(f"run {paths.run_id} is incomplete: missing {', '.join(missing)}")
    files = {
        p.name: {"sha256": store.sha256_file(p, sync=True), "bytes": p.stat().st_size}
        for p in sorted(paths.out.iterdir())
        if p.is_file() and p.name != MANIFEST
    }
    metrics = json.loads((paths.out / METRICS).read_text())
    index_info = json.loads((paths.out / INDEX_INFO).read_text())
    extract = next((s for s in stages if s.name == "extract"), None)
    export = next((s for s in stages if s.name == "export"), None)
    adopted = next((s for s in stages if s.name == "adopt"), None)
    trained = next((s for s in stages if s.name == "train"), None)
    refit = next((s for s in stages if s.name == "refit"), None)
    return {
        "schema_version": store.MANIFEST_VERSION,
        "run_id": paths.run_id,
        # The run whose training produced the vectors (an hourly refresh reuses one).
        "model_run": adopted.details["model_run"] if adopted else paths.run_id,
        "created_at": created_at.isoformat(),
        "input": {
            "source": extract.details.get("source") if extract else None,
            "fingerprint": extract.details.get("fingerprint") if extract else None,
        },
        "config": cfg.model_dump(mode="json"),
        "models": _models(trained, refit),
        "versions": package_versions(),
        "metrics": metrics["models"],
        "gate": metrics["gate"],
        "index": index_info,
        "export": export.details if export else {},
        "files": files,
        "stages": {
            s.name: {"seconds": s.seconds, "rows_in": s.rows_in, "rows_out": s.rows_out}
            for s in stages
        },
    }


def _models(trained: StageReport | None, refit: StageReport | None) -> dict:
    """Which model the gate evaluated and which one is served (a refresh trains neither)."""
    if trained is None:
        return {}
    evaluated = {"trained_on": "the training split", "corpus_tokens": trained.rows_in}
    if str(trained.details.get("init", "")).startswith("champion"):
        evaluated["trained_on"] = "the champion's vectors, then the training split's newer sessions"
    refitted = refit is not None and "corpus_tokens" in refit.details
    if refitted and refit.details.get("refit") == "warm":
        served = {
            "trained_on": "every split (the evaluated model, then the held-out splits: warm refit)",
            "corpus_tokens": trained.rows_in + refit.rows_in,
        }
    elif refitted:
        served = {"trained_on": "every split (refit)", "corpus_tokens": refit.rows_in}
    else:
        served = {"trained_on": "the training split (train.refit=off)"} | evaluated
    files = {
        "evaluated": [f"{EVALUATED_PREFIX}{n}" for n in MODEL_FILES],
        "served": list(MODEL_FILES),
    }
    return {
        "evaluated": evaluated | {"files": files["evaluated"]},
        "served": served | {"files": files["served"]},
    }


def recall_verdict(paths: RunPaths, cfg: PipelineConfig) -> dict:
    """The serving index's recall gate rule; raises GateRefused below the floor when the
    gate is enforced (nothing moved yet: the champion stays)."""
    info = json.loads((paths.out / INDEX_INFO).read_text())
    verdict = {
        "rule": f"index_recall@{info['recall_k']}",
        "observed": info["recall"],
        "threshold": cfg.export.min_recall,
        "passed": info["recall"] >= cfg.export.min_recall,
    }
    if not verdict["passed"]:
        message = (
            f"index recall gate refused the {info['kind']} index: recall@{info['recall_k']} "
            f"{info['recall']} < export.min_recall {cfg.export.min_recall} (use "
            "export.index_type=auto, which falls back to exact search, or flat)"
        )
        if cfg.gate.enforce:
            raise GateRefused(message)
        logger().warning("%s; gate.enforce=false: publishing", message)
    return verdict


def _still_current(paths: RunPaths, stages: list[StageReport]) -> None:
    """A refresh publishes only over the run it copied its model from: if a nightly run
    published meanwhile, switching would replace the new model with the old one."""
    adopted = next((s for s in stages if s.name == "adopt"), None)
    if adopted is None:
        return
    now = store.current_run(paths.data_dir).name
    if now != adopted.details["copied_from"]:
        raise Superseded(
            f"refresh {paths.run_id} not published: current moved from "
            f"{adopted.details['copied_from']} to {now} while it ran (the newer model stays)"
        )


def publish(
    paths: RunPaths, cfg: PipelineConfig, stages: list[StageReport], created_at: datetime
) -> StageReport:
    """Check the index recall, write the manifest, move the run into runs/ and switch
    `current` to it."""
    start = time.perf_counter()
    if (paths.final_dir / MANIFEST).is_file():  # a retry after the rename
        store.switch_current(paths.data_dir, paths.run_id)
        return StageReport(name="publish", details={"run_dir": str(paths.final_dir)})
    recall = recall_verdict(paths, cfg)
    with store.publishing(paths.data_dir):
        _still_current(paths, stages)
        if _serves_the_same(paths, stages):
            return _unchanged(paths, start)
        _champion_still_beaten(paths, cfg)
        return _publish_locked(paths, cfg, stages, created_at, recall, start)


# What a refresh's answers come from beyond the model, which adopt copied from current after
# checking its sha256. If these all hash like current's, the refresh would serve exactly what
# is served: publishing it would only take one of publish.keep_runs's slots (and push an
# older model out of rollback's reach) every hour that no events arrived.
ANSWER_FILES = (USER_RECS, ITEM_RECS, COUNT_LISTS, ITEM_ATTRIBUTES)


def _serves_the_same(paths: RunPaths, stages: list[StageReport]) -> bool:
    """Is this a refresh whose answer files are byte for byte those of the current run?"""
    if not any(s.name == "adopt" for s in stages):
        return False
    try:
        served = store.read_manifest(store.current_run(paths.data_dir))["files"]
    except PublishError:  # current unreadable: publishing this run repairs that
        return False
    return all(_same_file(paths.out / name, served.get(name)) for name in ANSWER_FILES)


def _same_file(new: Path, listed: dict | None) -> bool:
    """Is `new` the file a manifest entry records (neither existing counts)? Sizes first:
    a changed file is rarely hashed here as well as in the manifest."""
    if not new.is_file():
        return listed is None
    return (
        listed is not None
        and listed["bytes"] == new.stat().st_size
        and listed["sha256"] == store.sha256_file(new)
    )


def _unchanged(paths: RunPaths, start: float) -> StageReport:
    """Nothing to publish: `current` and the history stay; of the run's folder only its
    reports stay (work/<id>/reports/, pruned like a failed run's), so the run report its
    flow run links to still opens."""
    now = store.current_run(paths.data_dir)
    keep_only_reports(paths)
    report = paths.work_dir / REPORTS / RUN_REPORT
    logger().info(
        "publish: nothing new since run %s (the same recommendations); %s not published "
        "(its report: %s)",
        now.name,
        paths.run_id,
        report,
    )
    return StageReport(
        name="publish",
        seconds=round(time.perf_counter() - start, 3),
        details={
            "run_dir": str(now),
            "current": str(now),
            "unchanged": True,
            "files": 0,
            "report": str(report) if report.is_file() else "none",
        },
    )


def _champion_still_beaten(paths: RunPaths, cfg: PipelineConfig) -> None:
    """Gate against what is current now: if another run published since evaluate scored
    this one against the champion of then, score it against the new champion on this
    run's test split and apply the champion rule again (GateRefused if it now fails)."""
    metrics = json.loads((paths.out / METRICS).read_text())
    evaluated = (metrics.get("champion") or {}).get("run_id")
    try:
        now = store.current_run(paths.data_dir).name
    except PublishError:
        return
    if now == evaluated or not cfg.gate.enforce:
        return
    champion = load_champion(paths.data_dir)
    if champion is None:
        return
    emb = load_evaluated(paths.out)  # the model evaluate scored (not a refit of it)
    ex = cfg.export
    model = Scored(
        emb=emb,
        scoring=ex.scoring,
        weights=ex.item_weights,
        session_weights=ex.session_weights,
        recency_decay=ex.recency_decay,
    )
    again = compute_metrics(paths.stage_db, model, cfg, champion, work=paths.work_dir)
    rules = gate_verdicts(again, embedding_stats(emb.vectors, emb.context), cfg.gate)
    failed = [r for r in rules if "champion" in r["rule"] and not r["passed"]]
    logger().info("publish: current moved to %s since evaluate; champion rule re-checked", now)
    if failed:
        raise GateRefused(
            f"evaluation gate refused the model: current moved to {now} while this run ran, "
            f"and {failed[0]['rule']} fails against it ({failed[0].get('note', '')})"
        )


def _publish_locked(
    paths: RunPaths,
    cfg: PipelineConfig,
    stages: list[StageReport],
    created_at: datetime,
    recall: dict,
    start: float,
) -> StageReport:
    store.crash_point("before_manifest")
    manifest = build_manifest(paths, cfg, stages, created_at)
    rules = [*manifest["gate"]["rules"], recall]
    passed = manifest["gate"]["passed"] and recall["passed"]
    manifest["gate"] = {**manifest["gate"], "passed": passed, "rules": rules}
    report = StageReport(name="publish", rows_in=len(manifest["files"]))
    report.seconds = round(time.perf_counter() - start, 3)
    manifest["stages"]["publish"] = {
        "seconds": report.seconds,
        "rows_in": report.rows_in,
        "rows_out": report.rows_in + 1,
    }
    tmp = paths.out / f".{MANIFEST}.tmp"
    with open(tmp, "w") as handle:
        handle.write(json.dumps(manifest, indent=2, default=str))
        store.crash_point("manifest_half_written")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, paths.out / MANIFEST)
    store.fsync_dir(paths.out)
    store.crash_point("before_rename")
    runs_dir(paths.data_dir).mkdir(parents=True, exist_ok=True)
    os.rename(paths.out, paths.final_dir)
    store.fsync_dir(runs_dir(paths.data_dir))
    store.crash_point("before_switch")
    store.switch_current(paths.data_dir, paths.run_id)
    store.crash_point("before_prune")
    removed = store.prune(paths.data_dir, cfg.publish.keep_runs)
    shutil.rmtree(paths.work_dir, ignore_errors=True)
    report.seconds = round(time.perf_counter() - start, 3)
    report.rows_out = report.rows_in + 1
    report.details = {
        "run_dir": str(paths.final_dir),
        "current": str(store.current_run(paths.data_dir)),
        "files": len(manifest["files"]),
        "pruned_runs": ", ".join(removed) or "none",
    }
    logger().info("publish: current -> %s", paths.final_dir)
    return report


@task(
    name="publish",
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def publish_task(
    paths: RunPaths, cfg: PipelineConfig, stages: list[StageReport], created_at: datetime
) -> StageReport:
    report = publish(paths, cfg, stages, created_at)
    _link_artifact(report)
    report_artifact(report)
    return report


def _link_artifact(report: StageReport) -> None:
    from prefect.artifacts import create_link_artifact

    run_dir = Path(report.details["run_dir"])
    kept = report.details.get("report", "none")
    if report.details.get("unchanged") and kept != "none":
        # Evaluate linked the report where a published run keeps it; this run has none.
        run_id = Path(kept).parent.parent.name  # work/<run_id>/reports/report.html
        create_link_artifact(
            link=report_link(run_id, Path(kept), published=False),
            link_text=f"run report {run_id} (not published)",
            key="recsys-run-report",
            description="self-contained HTML report of this run's evaluation, kept in its "
            "work folder: it serves the same recommendations as current, so it was not "
            "published",
        )
    create_link_artifact(
        link=report_link(run_dir.name, run_dir),
        link_text=(
            f"nothing new: run {run_dir.name} still serves"
            if report.details.get("unchanged")
            else f"published run {run_dir.name}"
        ),
        key="recsys-published-run",
        description="folder of the run now served as published/current",
    )
