"""The run report: diagnostics, the warehouse history row and report.html, with the
Prefect link artifact. Evaluate writes them whatever the verdict (a refusal names the
report).

Measured and not kept: the report as a task of its own beside the export (it needs only
metrics.json and the evaluated model). On this 2-core machine the two contended for the
GIL and the cores: evaluate lost 1.3-3 s, the export gained as much, and the run took
the same time at 20k and at 1M events (docs/performance.md).
"""

from __future__ import annotations

from pathlib import Path

from recsys.config import EvaluateConfig, PipelineConfig
from recsys.data.attributes import resolve_attributes
from recsys.layout import RunPaths
from recsys.model.embedding import Embedding
from recsys.ops.locks import WAREHOUSE_LIMIT, exclusive
from recsys.stage import in_prefect_run, logger, report_link
from recsys.tasks.evaluate import history, report
from recsys.tasks.evaluate.diagnostics import diagnose
from recsys.tasks.evaluate.shards import load_evaluated


def write_run_report(
    paths: RunPaths, cfg: PipelineConfig, metrics: dict, emb: Embedding | None = None
) -> Path:
    """Diagnostics of the evaluated model (`emb`, else read from the run folder), the
    warehouse history row and report.html; returns the report's path."""
    emb = load_evaluated(paths.out) if emb is None else emb
    attributes = resolve_attributes(cfg.evaluate.item_attributes, paths.events, paths.data_dir)
    diag = _diagnostics(paths, emb, cfg.evaluate, metrics["scoring"], attributes)
    return record_and_render(paths, metrics, diag)


def record_and_render(paths: RunPaths, metrics: dict, diag: dict | None) -> Path:
    """The warehouse history row, then report.html (its trend chart reads the history)."""
    try:
        with exclusive(WAREHOUSE_LIMIT):  # one writer of warehouse.duckdb across all runs
            history.record_history(paths.data_dir, paths.run_id, metrics)
    except Exception as exc:  # the warehouse is a convenience, not a gate
        logger().warning("evaluate: warehouse history not written (%s)", exc)
    return report.write_report(paths, metrics, diag)


def _diagnostics(paths, emb, cfg: EvaluateConfig, scoring, attributes) -> dict | None:
    """Diagnostics explain a model; a failure there is logged, never fatal to the run."""
    if not cfg.diagnostics:
        return None
    try:
        return diagnose(emb, scoring, paths.out, cfg, attributes)
    except Exception as exc:
        logger().warning("evaluate: diagnostics failed (%s: %s)", type(exc).__name__, exc)
        return {"error": f"{type(exc).__name__}: {exc}"}


def link_report(paths: RunPaths, metrics: dict, html: Path) -> None:
    """The link artifact to the run report, where the report will be read."""
    if not in_prefect_run():
        return
    from prefect.artifacts import create_link_artifact

    # A run that goes on to publish is renamed from work/<id>/run to runs/<id>: link
    # where the report will live; a refused run keeps it in the work folder.
    target = html
    if metrics["gate"]["passed"] or not metrics["gate"]["enforced"]:
        target = paths.final_dir / html.name
    create_link_artifact(
        link=report_link(paths.run_id, target, published=target != html),
        link_text=f"run report {paths.run_id}",
        key="recsys-run-report",
        description="self-contained HTML report of this run's evaluation (in "
        f"{paths.work_dir} if the run stopped before publishing)",
    )
