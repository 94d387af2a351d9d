"""What the command line prints: a published run's stages and metrics, the table of every
run kept (`recsys runs`), a search's result, query answers, where a server listens. Lines
of text; the CLI echoes them."""

from __future__ import annotations

import json
from pathlib import Path

from recsys.layout import METRICS


def run_summary(result: dict) -> list[str]:
    """The published run: where it is, each stage's seconds and rows, and the metrics at
    the gate's K of the model and the baselines, for item lists and session lists."""
    run_dir = Path(result["run_dir"])
    metrics = json.loads((run_dir / METRICS).read_text())
    k = max(metrics["ks"])
    if result.get("unchanged"):
        lines = [
            f"nothing new: run {run_dir.name} serves the same recommendations, "
            f"so {result['run_id']} was not published (current stays {run_dir})"
        ]
        kept = result["stages"].get("publish", {}).get("details", {}).get("report", "none")
        if kept != "none":
            lines.append(f"its report: {kept}")
    else:
        lines = [f"published run {result['run_id']} -> {run_dir}"]
    lines.append(f"\n{'stage':<10}{'seconds':>9}{'rows in':>12}{'rows out':>12}")
    for name, stage in result["stages"].items():
        lines.append(
            f"{name:<10}{stage['seconds']:>9.2f}{stage['rows_in']:>12,}{stage['rows_out']:>12,}"
        )
    lines += _incremental(result["stages"].get("extract", {}).get("details") or {})
    k = metrics.get("gate", {}).get("k", k)
    for task, models in (
        ("item lists (next item from the last one)", metrics["models"]),
        ("session lists (next item from the whole session)", metrics.get("session_models")),
    ):
        if not models:
            continue
        lines.append(f"\n{task}\n{'source':<14}{f'HR@{k}':>9}{f'MRR@{k}':>9}{f'NDCG@{k}':>9}")
        ranked = sorted(models, key=lambda s: (s != "item2vec", -models[s][f"hr@{k}"]))
        for source in ranked:
            values = models[source]
            lines.append(
                f"{source:<14}{values[f'hr@{k}']:>9.4f}{values[f'mrr@{k}']:>9.4f}"
                f"{values[f'ndcg@{k}']:>9.4f}"
            )
    return lines


def _incremental(details: dict) -> list[str]:
    """What an incremental extract read and recomputed (nothing for a full read)."""
    ingested = details.get("incremental")
    if not ingested:
        return []
    files = ", ".join(
        f"{ingested[f'files_{kind}']:,} {kind}"
        for kind in ("new", "appended", "changed", "skipped")
        if ingested.get(f"files_{kind}")
    )
    lines = [f"\nincremental extract: {ingested['rows_ingested']:,} rows ingested ({files})"]
    done = ingested.get("recompute")
    if done:
        why = f" ({done['reason']})" if done["reason"] else ""
        lines.append(
            f"{done['mode']} recompute{why}: {done['users']:,} users, {done['rows']:,} rows; "
            f"{done['stored_rows']:,} rows kept their stored results"
        )
    return lines


def runs_table(rows: list[dict], as_json: bool = False) -> list[str]:
    """`recsys runs`: one JSON object per run, or a table with HR/MRR at 20 (or the
    largest K a manifest has), the gate verdict and a star on the current run."""
    if as_json:
        return [json.dumps(row) for row in rows]
    keys = sorted({k for row in rows for k in row.get("metrics", {}) if k[:3] in ("hr@", "mrr")})
    shown = [k for k in keys if k.endswith("@20")] or keys[-2:]
    lines = ["  ".join([f"{'run':<24}", f"{'created':<19}", *(f"{k:>8}" for k in shown), "gate"])]
    for row in rows:
        mark = "*" if row["current"] else " "
        if "error" in row:
            lines.append(f"{mark}{row['run_id']:<23}  {row['error']}")
            continue
        metrics = row.get("metrics", {})
        values = [f"{metrics[k]:>8.4f}" if k in metrics else f"{'-':>8}" for k in shown]
        created = str(row.get("created_at") or "-")[:19]
        gate = str(row.get("gate") or "-")
        lines.append("  ".join([f"{mark}{row['run_id']:<23}", f"{created:<19}", *values, gate]))
    lines.append("* current")
    return lines


def query_rows(rows: list[dict], as_json: bool = False) -> list[str]:
    """`recsys similar` / `recommend`: JSON lines, or tab-separated values."""
    if as_json:
        return [json.dumps(row) for row in rows]
    return ["\t".join(_cell(v) for v in row.values()) for row in rows]


def _cell(value: object) -> str:
    """A TSV cell: a float to 4 places; an id's tab, line break or backslash escaped as in
    Python (`\\t`), so a row keeps its columns and one row stays one line (ids are data)."""
    if isinstance(value, float):
        return f"{value:.4f}"
    text = str(value)
    if any(c in text for c in "\t\n\r\\"):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        text = text.replace("\r", "\\r")
    return text


def tune_summary(result: dict) -> list[str]:
    """`recsys tune`: tuned.yaml written, the best value against the defaults and against
    the strongest tuned baseline of each task."""
    summary = result["summary"]
    metric = summary["metric"]
    lines = [
        f"wrote {result['tuned']} ({summary['trials']} trials, {summary['seconds']:.0f} s)",
        f"validation {metric} / strongest tuned baseline ({summary['objective']}): "
        f"best {summary['best_value']:.4f}, defaults {summary['default_value']:.4f}",
    ]
    for task, baselines in summary["validation_baselines"].items():
        best = summary["best_metrics"].get(task, {}).get(metric)
        if best is not None:
            shown = ", ".join(f"{src} {v:.4f}" for src, v in sorted(baselines.items()))
            lines.append(f"  {task} lists: model {best:.4f}; baselines {shown}")
    return lines


def serving_line(host: str, port: int, data_dir: Path) -> str:
    """`recsys serve`'s first line: the URL it answers on (scripts read it)."""
    shown = f"[{host}]" if ":" in host else host
    return f"recsys serve: http://{shown}:{port} (data dir {data_dir})"


def no_runs_line(data_dir: Path) -> str:
    """`recsys runs` with nothing kept. A data dir not made yet lists no runs too (a monitor
    may ask before the first run), but says so: a mistyped path is seen."""
    missing = "" if data_dir.is_dir() else f"; {data_dir} does not exist yet"
    return f"no runs in {data_dir / 'runs'} (`recsys run` publishes the first{missing})"
