"""Evaluate: next-item prediction on the held-out time split, baselines, champion and gate.

Top-K lists are computed once per distinct query item (FAISS for the model and the
champion, SQL for the baselines) and joined to the test pairs in DuckDB; no Python loop
runs per test event. `metrics.json`, the diagnostics, the HTML run report and the
warehouse history row are written whatever the verdict, then a refusal raises GateRefused.

    shards.py        the scoring split into query-item ranges, and its exact combination
    gate.py          the publish rules over the metrics
    diagnostics.py   neighbour samples, clustering and the 2-D map
    report.py        the self-contained HTML run report
    history.py       every run's metrics in the warehouse (`run_metrics`)
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import EvaluateConfig, OpsConfig, PipelineConfig
from recsys.data.attributes import resolve_attributes
from recsys.errors import GateRefused
from recsys.layout import METRICS, RunPaths, runs_dir
from recsys.model import index, store
from recsys.model.embedding import Embedding
from recsys.ops.locks import WAREHOUSE_LIMIT, exclusive
from recsys.ops.scaleout import Mapper, inline, run_shards, shard_count, worker_id
from recsys.stage import StageReport, in_prefect_run, logger, report_artifact, timed
from recsys.tasks.evaluate import history, report
from recsys.tasks.evaluate import shards as shards_of
from recsys.tasks.evaluate.diagnostics import diagnose
from recsys.tasks.evaluate.gate import embedding_stats, failures, gate_verdicts

BASELINES = ("popularity", "cooccurrence")


def load_champion(data_dir: Path) -> tuple[Embedding, str, str] | None:
    """(embedding, scoring, run_id) of the published run, or None when nothing is published.

    An unreadable champion is logged and treated as absent: it must not block a good model
    from replacing it."""
    try:
        run = store.current_run(data_dir)
    except Exception:
        return None
    try:
        scoring = store.read_manifest(run)["config"]["export"]["scoring"]
        return Embedding.load(run), scoring, run.name
    except Exception as exc:
        logger().warning("evaluate: champion %s unreadable (%s); rule skipped", run.name, exc)
        return None


def compute_metrics(
    stage_db: Path,
    emb: Embedding,
    cfg: EvaluateConfig,
    k_gate: int,
    scoring: str,
    champion,
    *,
    shards: int = 1,
    mapper: Mapper | None = None,
    work: Path | None = None,
) -> dict:
    """Accuracy at every K, slices, coverage/popularity bias, and vocabulary coverage.

    The test pairs are split into `shards` query-item ranges; `mapper` runs the shard
    calls (default: here, one after the other, with these in-memory vectors) and the
    counts they return are combined (see shards.py)."""
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        calls = [
            {
                "stage_db": stage_db,
                "scoring": scoring,
                "ks": cfg.ks,
                "k_gate": k_gate,
                "head_share": cfg.head_share,
                "short_max": cfg.short_session_max,
                "batch": cfg.search_batch,
                "threads": index.search_threads(),
                "lo": lo,
                "hi": hi,
                "shown_path": Path(tmp) / f"shown-{i:04d}.parquet",
            }
            for i, (lo, hi) in enumerate(shards_of.plan(stage_db, shards, cfg.search_batch))
        ]
        if mapper is None:
            pair = None if champion is None else champion[:2]
            mapper = inline(partial(shards_of.score_shard, emb=emb, champion=pair))
        parts = mapper(calls)
        combined = shards_of.combine(stage_db, parts, f"{tmp}/shown-*.parquet", cfg.ks, k_gate)
    with sqlrun.connect(stage_db, read_only=True) as con:
        con.register("model_vocab", pa.table({"item_id": pa.array(emb.item_ids.tolist())}))
        test_events, vocab_coverage = sqlrun.run(con, "evaluate/vocab_coverage").fetchone()
    metrics = {
        "task": "next-item prediction on the held-out time split",
        "scoring": scoring,
        "ks": cfg.ks,
        "test_pairs": combined["pairs"],
        "test_events": test_events,
        "query_items": sum(p.queries for p in parts),
        "query_items_in_vocabulary": sum(p.queries_known for p in parts),
        "vocab_coverage": float(vocab_coverage),
        "models": combined["models"],
        "slices": combined["slices"],
    }

    if champion is not None:
        metrics["champion"] = {"run_id": champion[2], "scoring": champion[1]}
    return metrics


def evaluate(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    """Score model, baselines and champion under `export.scoring`; write metrics,
    diagnostics and the run report; raise GateRefused when a rule fails and the gate is
    enforced.

    The scoring is split into `scaleout.shard_count(cfg.ops)` shards, which run as Prefect
    tasks on the flow's task runner (the result does not depend on it)."""
    gate, scoring, ops = cfg.gate, cfg.export.scoring, cfg.ops
    attributes = resolve_attributes(cfg.evaluate.item_attributes, paths.events, paths.data_dir)
    stage = StageReport(name="evaluate")
    with timed(stage):
        emb = Embedding.load(paths.out)
        champion = load_champion(paths.data_dir)
        shards = shard_count(ops)
        mapper, workers = None, {worker_id()}
        if shards > 1:
            mapper = _shard_mapper(paths, champion, ops, workers)
        metrics = compute_metrics(
            paths.stage_db,
            emb,
            cfg.evaluate,
            gate.k,
            scoring,
            champion,
            shards=shards,
            mapper=mapper,
            work=paths.work_dir,
        )
        if metrics["test_pairs"] == 0:
            raise GateRefused("evaluate: the test split has no next-item pairs to score")
        metrics["embedding"] = embedding_stats(emb.vectors, emb.context)
        verdicts = gate_verdicts(metrics, metrics["embedding"], gate)
        passed = all(v["passed"] for v in verdicts)
        metrics["gate"] = {
            "passed": passed,
            "enforced": gate.enforce,
            "k": gate.k,
            "rules": verdicts,
        }
        metrics["evaluated_at"] = datetime.now(UTC).isoformat()
        (paths.out / METRICS).write_text(json.dumps(metrics, indent=2))
        diag = _diagnostics(paths, emb, cfg.evaluate, scoring, attributes)
        html = _run_report(paths, metrics, diag)
        stage.rows_in, stage.rows_out = metrics["test_pairs"], len(metrics["models"])
        stage.details = {
            f"{source} {name}": round(value, 4)
            for source, values in metrics["models"].items()
            for name, value in values.items()
            if name.endswith(f"@{gate.k}") and name.startswith("hr")
        }
        stage.details["gate"] = "passed" if passed else "REFUSED"
        stage.details["shards"] = shards
        stage.details["shard workers"] = ", ".join(sorted(workers))
    _artifacts(stage, metrics, html, paths)
    if not passed:
        failed = failures(verdicts)
        if gate.enforce:
            raise GateRefused(f"evaluation gate refused the model: {failed}")
        logger().warning("gate would refuse (%s) but gate.enforce=false: publishing", failed)
    return stage


def _shard_mapper(paths: RunPaths, champion, ops: OpsConfig | None, workers: set) -> Mapper:
    """Shards as Prefect tasks: they read the vectors from the run folders (paths only);
    `workers` collects where they ran."""
    where = {
        "model_dir": paths.out,
        "champion_dir": None if champion is None else runs_dir(paths.data_dir) / champion[2],
        "champion_scoring": None if champion is None else champion[1],
    }

    def mapper(calls: list[dict]) -> list[shards_of.ShardCounts]:
        parts = run_shards(shards_of.evaluate_shard_task, [c | where for c in calls], ops)
        workers.clear()
        workers.update(p.worker for p in parts)
        return parts

    return mapper


def _diagnostics(paths, emb, cfg: EvaluateConfig, scoring, attributes) -> dict | None:
    """Diagnostics explain a model; a failure there is logged, never fatal to the run."""
    if not cfg.diagnostics:
        return None
    try:
        return diagnose(emb, scoring, paths.out, cfg, attributes)
    except Exception as exc:
        logger().warning("evaluate: diagnostics failed (%s: %s)", type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def _run_report(paths: RunPaths, metrics: dict, diag: dict | None) -> Path | None:
    try:
        with exclusive(WAREHOUSE_LIMIT):  # one writer of warehouse.duckdb across all runs
            history.record_history(paths.data_dir, paths.run_id, metrics)
    except Exception as exc:  # the warehouse is a convenience, not a gate
        logger().warning("evaluate: warehouse history not written (%s)", exc)
    return report.write_report(paths, metrics, diag)


def _artifacts(stage: StageReport, metrics: dict, html: Path | None, paths: RunPaths) -> None:
    if not in_prefect_run():
        return
    from prefect.artifacts import create_link_artifact, create_table_artifact

    create_table_artifact(
        table=report.key_table(metrics), key="recsys-metrics", description="model vs baselines"
    )
    if html is not None:
        # A run that goes on to publish is renamed from work/<id>/run to runs/<id>: link
        # where the report will live; a refused run keeps it in the work folder.
        target = html
        if metrics["gate"]["passed"] or not metrics["gate"]["enforced"]:
            target = paths.final_dir / html.name
        create_link_artifact(
            link=f"file://{target}",
            link_text=f"run report {paths.run_id}",
            key="recsys-run-report",
            description="self-contained HTML report of this run's evaluation (in "
            f"{paths.work_dir} if the run stopped before publishing)",
        )
    gate = metrics.get("gate", {"rules": []})
    lines = ["| rule | observed | threshold | verdict | note |", "|---|---:|---:|---|---|"]
    for v in gate["rules"]:
        verdict = "pass" if v["passed"] else "**FAIL**"
        lines.append(
            f"| {v['rule']} | {v['observed']} | {v['threshold']} | {verdict} "
            f"| {v.get('note', '')} |"
        )
    report_artifact(stage, "#### Gate\n\n" + "\n".join(lines))


@task(name="evaluate", retries=0, cache_policy=NONE)
def evaluate_task(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    return evaluate(paths, cfg)
