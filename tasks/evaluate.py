"""Evaluate: next-item prediction on the held-out time split, baselines, champion and gate.

Top-K lists are computed once per distinct query item (FAISS for the model and the
champion, SQL for the baselines) and joined to the test pairs in DuckDB; no Python loop
runs per test event. `metrics.json`, the diagnostics, the HTML run report and the
warehouse history row are written whatever the verdict, then a refusal raises GateRefused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from recsys import index, published, sqlrun
from recsys.config import EvaluateConfig, GateConfig, ItemAttributes
from recsys.errors import GateRefused
from recsys.gate import CHAMPION, MODEL, embedding_stats, failures, gate_verdicts
from recsys.layout import RunPaths
from recsys.stage import StageReport, in_prefect_run, logger, report_artifact, timed
from recsys.vocab import Embedding

METRICS = "metrics.json"
BASELINES = ("popularity", "cooccurrence")


def model_neighbours(emb: Embedding, query_ids: list[str], k: int, scoring: str) -> pa.Table:
    """(query_id, rank, item_id) for the model's top-k neighbours of each known query.

    Exact search: the evaluation measures the embedding itself, not an ANN approximation."""
    rows = emb.rows(query_ids)
    known = rows >= 0
    rows = rows[known]
    queries, indexed = emb.spaces(scoring)
    _, ids = index.neighbours_without_self(index.build_exact(indexed), queries, rows, k)
    queries = np.repeat(np.asarray(query_ids, dtype=object)[known], ids.shape[1])
    ranks = np.tile(np.arange(1, ids.shape[1] + 1), len(rows))
    flat = ids.ravel()
    valid = flat >= 0
    return pa.table(
        {
            "query_id": pa.array(queries[valid].tolist(), pa.string()),
            "rank": pa.array(ranks[valid], pa.int64()),
            "item_id": pa.array(emb.item_ids[flat[valid]].tolist(), pa.string()),
        }
    )


def load_champion(data_dir: Path) -> tuple[Embedding, str, str] | None:
    """(embedding, scoring, run_id) of the published run, or None when nothing is published.

    An unreadable champion is logged and treated as absent: it must not block a good model
    from replacing it."""
    try:
        run = published.current_run(data_dir)
    except Exception:
        return None
    try:
        scoring = published.read_manifest(run)["config"]["export"]["scoring"]
        return Embedding.load(run), scoring, run.name
    except Exception as exc:
        logger().warning("evaluate: champion %s unreadable (%s); rule skipped", run.name, exc)
        return None


def _score(con, emb: Embedding, scoring: str, k: int, champion) -> list[str]:
    """Fill the `candidates` table for every source; returns the query items."""
    sqlrun.run(con, "evaluate_pairs")
    sqlrun.run(con, "evaluate_candidates")
    queries = [r[0] for r in sqlrun.run(con, "evaluate_queries").fetchall()]
    con.register("model_neighbours", model_neighbours(emb, queries, k, scoring))
    sqlrun.run(con, "evaluate_model_candidates", {"source": MODEL})
    if champion is not None:
        champ_emb, champ_scoring, _ = champion
        con.register("model_neighbours", model_neighbours(champ_emb, queries, k, champ_scoring))
        sqlrun.run(con, "evaluate_model_candidates", {"source": CHAMPION})
    sqlrun.run(con, "evaluate_popularity", {"k": k})
    sqlrun.run(con, "evaluate_cooccurrence", {"k": k})
    sqlrun.run(con, "evaluate_hits")
    return queries


def compute_metrics(
    stage_db: Path, emb: Embedding, cfg: EvaluateConfig, k_gate: int, scoring: str, champion
) -> dict:
    """Accuracy at every K, slices, coverage/popularity bias, and vocabulary coverage."""
    k = max(cfg.ks)
    with sqlrun.connect(stage_db, read_only=True) as con:
        queries = _score(con, emb, scoring, k, champion)
        rows = sqlrun.run(con, "evaluate_metrics", {"ks": cfg.ks}).fetchall()
        slices = sqlrun.run(
            con,
            "evaluate_slices",
            {"k": k_gate, "head_share": cfg.head_share, "short_max": cfg.short_session_max},
        ).fetchall()
        beyond = sqlrun.run(con, "evaluate_beyond", {"k": k_gate}).fetchall()
        con.register("model_vocab", pa.table({"item_id": pa.array(emb.item_ids.tolist())}))
        test_events, vocab_coverage = sqlrun.run(con, "evaluate_vocab_coverage").fetchone()
        n_pairs = con.execute("select count(*) from test_pairs").fetchone()[0]
    models: dict[str, dict[str, float]] = {}
    for source, cut, _, hr, mrr, ndcg in rows:
        models.setdefault(source, {}).update(
            {f"hr@{cut}": hr, f"mrr@{cut}": mrr, f"ndcg@{cut}": ndcg}
        )
    for source, coverage, bias in beyond:
        models.setdefault(source, {}).update(
            {f"coverage@{k_gate}": coverage, f"popularity_bias@{k_gate}": bias}
        )
    metrics = {
        "task": "next-item prediction on the held-out time split",
        "scoring": scoring,
        "ks": cfg.ks,
        "test_pairs": n_pairs,
        "test_events": test_events,
        "query_items": len(queries),
        "query_items_in_vocabulary": int((emb.rows(queries) >= 0).sum()),
        "vocab_coverage": float(vocab_coverage),
        "models": models,
        "slices": [
            {
                "source": s,
                "dimension": d,
                "slice": v,
                "pairs": n,
                f"hr@{k_gate}": hr,
                f"mrr@{k_gate}": mrr,
            }
            for s, d, v, n, hr, mrr in slices
        ],
    }
    if champion is not None:
        metrics["champion"] = {"run_id": champion[2], "scoring": champion[1]}
    return metrics


def evaluate(
    paths: RunPaths,
    cfg: EvaluateConfig,
    gate: GateConfig,
    scoring: str = "in_out",
    attributes: ItemAttributes | None = None,
) -> StageReport:
    """Score model, baselines and champion; write metrics, diagnostics and the run report;
    raise GateRefused when a rule fails and the gate is enforced."""
    report = StageReport(name="evaluate")
    with timed(report):
        emb = Embedding.load(paths.out)
        champion = load_champion(paths.data_dir)
        metrics = compute_metrics(paths.stage_db, emb, cfg, gate.k, scoring, champion)
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
        diag = _diagnostics(paths, emb, cfg, scoring, attributes)
        html = _run_report(paths, metrics, diag)
        report.rows_in, report.rows_out = metrics["test_pairs"], len(metrics["models"])
        report.details = {
            f"{source} {name}": round(value, 4)
            for source, values in metrics["models"].items()
            for name, value in values.items()
            if name.endswith(f"@{gate.k}") and name.startswith("hr")
        }
        report.details["gate"] = "passed" if passed else "REFUSED"
    _artifacts(report, metrics, html, paths)
    if not passed:
        failed = failures(verdicts)
        if gate.enforce:
            raise GateRefused(f"evaluation gate refused the model: {failed}")
        logger().warning("gate would refuse (%s) but gate.enforce=false: publishing", failed)
    return report


def _diagnostics(paths, emb, cfg, scoring, attributes) -> dict | None:
    """Diagnostics explain a model; a failure there is logged, never fatal to the run."""
    if not cfg.diagnostics:
        return None
    from recsys.tasks.diagnostics import diagnose

    try:
        return diagnose(emb, scoring, paths.out, cfg, attributes)
    except Exception as exc:
        logger().warning("evaluate: diagnostics failed (%s: %s)", type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def _run_report(paths: RunPaths, metrics: dict, diag: dict | None) -> Path | None:
    from recsys import report
    from recsys.locks import WAREHOUSE_LIMIT, exclusive

    try:
        with exclusive(WAREHOUSE_LIMIT):  # one writer of warehouse.duckdb across all runs
            report.record_history(paths.data_dir, paths.run_id, metrics)
    except Exception as exc:  # the warehouse is a convenience, not a gate
        logger().warning("evaluate: warehouse history not written (%s)", exc)
    return report.write_report(paths, metrics, diag)


def _artifacts(report: StageReport, metrics: dict, html: Path | None, paths: RunPaths) -> None:
    if not in_prefect_run():
        return
    from prefect.artifacts import create_link_artifact, create_table_artifact

    from recsys.report import key_table

    create_table_artifact(
        table=key_table(metrics), key="recsys-metrics", description="model vs baselines"
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
    report_artifact(report, "#### Gate\n\n" + "\n".join(lines))


@task(name="evaluate", retries=0, cache_policy=NONE)
def evaluate_task(
    paths: RunPaths,
    cfg: EvaluateConfig,
    gate: GateConfig,
    scoring: str,
    attributes: ItemAttributes | None = None,
) -> StageReport:
    return evaluate(paths, cfg, gate, scoring, attributes)
