"""The run report: one self-contained HTML file per run.

The report shows what a reviewer needs to trust or question the gate's verdict: metrics of
the model vs every baseline vs the champion, the slices, each gate rule with its numbers,
the diagnostics (neighbour samples, clustering, the 2-D map embedded as base64) and the
trend of the gate metric over the previous runs in DATA_DIR/runs. No external asset is
referenced, so the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

from recsys.layout import METRICS, RUN_REPORT, RunPaths, runs_dir
from recsys.tasks.evaluate import charts
from recsys.tasks.evaluate.gate import CHAMPION, EMBEDDING, MODEL

TREND_RUNS = 20


def gate_k(metrics: dict) -> int:
    """The K the gate read (older metrics.json files only name it in their rules)."""
    if "k" in metrics["gate"]:
        return int(metrics["gate"]["k"])
    rule = next(r for r in metrics["gate"]["rules"] if r["rule"].startswith("min_hr@"))
    return int(rule["rule"].split("@")[1])


def key_table(metrics: dict, task: str = "models") -> list[dict]:
    """One row per source (model, baselines, champion) of a task (`models`: next item,
    `session_models`: whole session) with every metric, rounded."""
    return [
        {"source": source, **{name: round(v, 4) for name, v in values.items()}}
        for source, values in (metrics.get(task) or {}).items()
    ]


def trend(data_dir: Path, run_id: str, metrics: dict) -> list[dict]:
    """HR@K per source over the last runs under DATA_DIR/runs, then this run."""
    at = f"hr@{gate_k(metrics)}"
    rows = []
    folders = sorted(runs_dir(data_dir).glob(f"*/{METRICS}")) if runs_dir(data_dir).is_dir() else []
    for path in folders[-TREND_RUNS:]:
        if path.parent.name == run_id:
            continue
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a damaged old run must not break this run's report
        row = {"run_id": path.parent.name, "gate": old.get("gate", {}).get("passed")}
        row.update({s: v.get(at) for s, v in old.get("models", {}).items()})
        rows.append(row)
    row = {"run_id": f"{run_id} (this run)", "gate": metrics["gate"]["passed"]}
    row.update({s: v.get(at) for s, v in metrics["models"].items()})
    return [*rows, row]


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>none</p>"
    cols = list(dict.fromkeys(k for r in rows for k in r))

    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:.4f}"
        return escape("" if v is None else str(v))

    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _by_hr(models: dict, at: str) -> list[str]:
    return sorted(models, key=lambda s: -models[s][at])


def _gate_rows(metrics: dict) -> list[dict]:
    return [
        {
            "rule": r["rule"],
            "observed": json.dumps(r["observed"]),
            "threshold": json.dumps(r["threshold"]),
            "verdict": "pass" if r["passed"] else "FAIL",
            "note": r.get("note", ""),
        }
        for r in metrics["gate"]["rules"]
    ]


def _diagnostics_html(diag: dict | None, folder: Path) -> str:
    if diag is None:
        return "<p>diagnostics switched off (evaluate.diagnostics=false)</p>"
    if "error" in diag:
        return f"<p>diagnostics failed: {escape(diag['error'])}</p>"
    parts = ["<h3>Clustering (k-means on unit input vectors)</h3>", _table([diag["clustering"]])]
    samples = [
        {
            "item": f"{s['item_id']} {s['title'] or ''}",
            "neighbours": "; ".join(f"{n['item_id']} {n['title'] or ''}" for n in s["neighbours"]),
        }
        for s in diag["neighbours"]
    ]
    parts += ["<h3>Neighbours of the most trained items</h3>", _table(samples)]
    png = folder / diag.get("map", "")
    if diag.get("map") and png.is_file():
        data = base64.b64encode(png.read_bytes()).decode()
        parts += [
            "<h3>2-D map</h3>",
            f'<img alt="embedding map" src="data:image/png;base64,{data}">',
        ]
    return "".join(parts)


def _weights_html(metrics: dict) -> str:
    """How the published lists mix the channels, and who chose that."""
    weights = metrics.get("weights") or {}

    def mix(kind: str) -> str:
        return ", ".join(f"{c} {w:g}" for c, w in (weights.get(kind) or {}).items())

    chosen = metrics.get("selection")
    who = (
        f"chosen by this run on {chosen['cases']:,} other held-out cases (by "
        f"{escape(chosen['metric'])}; the numbers below are from the cases it did not see)"
        if chosen
        else "as configured"
    )
    return (
        f"<p>Channel weights, {who}: item lists {escape(mix('item'))}; session lists "
        f"{escape(mix('session'))}, decay {metrics.get('recency_decay', '')}; count "
        f"channel {escape(str(metrics.get('count_channel', '')))}.</p>"
    )


def write_report(paths: RunPaths, metrics: dict, diag: dict | None) -> Path:
    """Write `report.html` into the run folder and return its path."""
    k = gate_k(metrics)
    at = f"hr@{k}"
    history = trend(paths.data_dir, paths.run_id, metrics)
    verdict = "PASSED" if metrics["gate"]["passed"] else "REFUSED"
    sessions = metrics.get("session_models") or {}
    strongest = [s for s in _by_hr(metrics["models"], at) if s not in (MODEL, EMBEDDING, CHAMPION)]
    body = [
        f"<h1>Run {escape(paths.run_id)}: gate {verdict}</h1>",
        f"<p>{escape(metrics['task'])}; scoring {escape(metrics['scoring'])}; "
        f"{metrics['test_pairs']:,} next-item cases, {metrics.get('session_cases', 0):,} "
        f"session cases; vocabulary covers "
        f"{metrics['vocab_coverage']:.1%} of {metrics['test_events']:,} test events; "
        f"champion: {escape(metrics.get('champion', {}).get('run_id', 'none'))}. "
        f"<i>{MODEL}</i> is the published lists (channels fused), <i>{EMBEDDING}</i> the "
        "embedding alone.</p>",
        _weights_html(metrics),
        "<h2>Gate</h2>",
        _table(_gate_rows(metrics)),
        "<h2>Item lists: next item from the last one (item_recs)</h2>",
        charts.img(charts.sources_chart(metrics["models"], k, "published vs baselines"), "item"),
        _table(key_table(metrics)),
        "<h2>Session lists: next item from the whole session (user lists, live recall)</h2>",
        charts.img(charts.sources_chart(sessions, k, "published vs baselines"), "session"),
        _table(key_table(metrics, "session_models")) if sessions else "<p>not scored</p>",
        f"<h2>Slices ({escape(at)})</h2>",
        charts.img(
            charts.slices_chart(metrics["slices"], k, [MODEL, *strongest[:1], "popularity"]),
            "slices",
        ),
        _table(metrics["slices"]),
        f"<h2>Trend of {escape(at)} over runs</h2>",
        charts.img(charts.trend_chart(history, k), "trend"),
        _table(history),
        "<h2>Diagnostics</h2>",
        _diagnostics_html(diag, paths.out),
    ]
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}"
        ".small{font-size:11px;color:#666}img{max-width:100%;display:block;margin:.5em 0}"
    )
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>recsys run "
        f"{escape(paths.run_id)}</title><style>{style}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )
    path = paths.out / RUN_REPORT
    path.write_text(html)
    return path
