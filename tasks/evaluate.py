"""Evaluate: next-item prediction on the held-out time split, baselines, and the gate.

Top-K lists are computed once per distinct query item (FAISS for the model, SQL for the
baselines) and joined to the test pairs in DuckDB; no Python loop runs per test event.
`metrics.json` and the metrics table artifact are written whatever the verdict.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from recsys import index, sqlrun
from recsys.config import EvaluateConfig, GateConfig
from recsys.errors import GateRefused
from recsys.layout import RunPaths
from recsys.stage import StageReport, in_prefect_run, logger, report_artifact, timed
from recsys.vocab import Embedding

MODEL = "item2vec"
METRICS = "metrics.json"


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


def gate_verdicts(metrics: dict, emb: Embedding, cfg: GateConfig) -> list[dict]:
    """Each rule with its observed value, threshold and verdict."""
    at = f"hr@{cfg.k}"
    model_hr = metrics["models"][MODEL][at]
    popular_hr = metrics["models"]["popularity"][at]
    finite = bool(np.isfinite(emb.vectors).all())
    return [
        {
            "rule": "finite_vectors",
            "observed": finite,
            "threshold": True,
            "passed": finite,
        },
        {
            "rule": f"min_{at}",
            "observed": round(model_hr, 6),
            "threshold": cfg.min_hr,
            "passed": model_hr >= cfg.min_hr,
        },
        {
            "rule": f"lift_{at}_over_popularity",
            "observed": round(model_hr / popular_hr - 1, 6) if popular_hr > 0 else None,
            "threshold": cfg.min_lift_over_popularity,
            "passed": model_hr >= popular_hr * (1 + cfg.min_lift_over_popularity),
        },
    ]


def evaluate(
    paths: RunPaths, cfg: EvaluateConfig, gate: GateConfig, scoring: str = "in_out"
) -> StageReport:
    """Score model and baselines; write metrics.json; raise GateRefused when enforced."""
    report = StageReport(name="evaluate")
    with timed(report):
        k = max(cfg.ks)
        emb = Embedding.load(paths.out)
        with sqlrun.connect(paths.stage_db, read_only=True) as con:
            sqlrun.run(con, "evaluate_pairs")
            sqlrun.run(con, "evaluate_candidates")
            queries = [r[0] for r in sqlrun.run(con, "evaluate_queries").fetchall()]
            con.register("model_neighbours", model_neighbours(emb, queries, k, scoring))
            sqlrun.run(con, "evaluate_model_candidates", {"source": MODEL})
            sqlrun.run(con, "evaluate_popularity", {"k": k})
            sqlrun.run(con, "evaluate_cooccurrence", {"k": k})
            rows = sqlrun.run(con, "evaluate_metrics", {"ks": cfg.ks}).fetchall()
            n_pairs = con.execute("select count(*) from test_pairs").fetchone()[0]
        models: dict[str, dict[str, float]] = {}
        for source, cut, _, hr, mrr, ndcg in rows:
            models.setdefault(source, {}).update(
                {f"hr@{cut}": hr, f"mrr@{cut}": mrr, f"ndcg@{cut}": ndcg}
            )
        known = int((emb.rows(queries) >= 0).sum())
        metrics = {
            "task": "next-item prediction on the held-out time split",
            "scoring": scoring,
            "ks": cfg.ks,
            "test_pairs": n_pairs,
            "query_items": len(queries),
            "query_items_in_vocabulary": known,
            "models": models,
        }
        if n_pairs == 0:
            raise GateRefused("evaluate: the test split has no next-item pairs to score")
        verdicts = gate_verdicts(metrics, emb, gate)
        passed = all(v["passed"] for v in verdicts)
        metrics["gate"] = {"passed": passed, "enforced": gate.enforce, "rules": verdicts}
        (paths.out / METRICS).write_text(json.dumps(metrics, indent=2))
        report.rows_in, report.rows_out = n_pairs, len(models)
        report.details = {
            f"{source} {name}": round(value, 4)
            for source, values in models.items()
            for name, value in values.items()
            if name.endswith(f"@{gate.k}")
        }
        report.details["gate"] = "passed" if passed else "REFUSED"
    _artifacts(report, metrics)
    if not passed:
        failed = "; ".join(
            f"{v['rule']}: observed {v['observed']}, needs {v['threshold']}"
            for v in verdicts
            if not v["passed"]
        )
        if gate.enforce:
            raise GateRefused(f"evaluation gate refused the model: {failed}")
        logger().warning("gate would refuse (%s) but gate.enforce=false: publishing", failed)
    return report


def _artifacts(report: StageReport, metrics: dict) -> None:
    if not in_prefect_run():
        return
    from prefect.artifacts import create_table_artifact

    table = [
        {"source": source, **{name: round(v, 4) for name, v in values.items()}}
        for source, values in metrics["models"].items()
    ]
    create_table_artifact(table=table, key="recsys-metrics", description="model vs baselines")
    gate = metrics.get("gate", {"rules": []})
    lines = ["| rule | observed | threshold | verdict |", "|---|---:|---:|---|"]
    for v in gate["rules"]:
        verdict = "pass" if v["passed"] else "**FAIL**"
        lines.append(f"| {v['rule']} | {v['observed']} | {v['threshold']} | {verdict} |")
    report_artifact(report, "#### Gate\n\n" + "\n".join(lines))


@task(name="evaluate", retries=0, cache_policy=NONE)
def evaluate_task(
    paths: RunPaths, cfg: EvaluateConfig, gate: GateConfig, scoring: str
) -> StageReport:
    return evaluate(paths, cfg, gate, scoring)
