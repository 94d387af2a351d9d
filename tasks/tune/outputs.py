"""What a search leaves: DATA_DIR/tuned.yaml (a config layer every later run reads), the
trials with their scores (trials.json), a plot, and the Prefect artifacts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from recsys.config import TrainConfig
from recsys.layout import TRIALS, TRIALS_PLOT
from recsys.stage import in_prefect_run
from recsys.tasks.tune.space import split_params


def search_summary(results: list[dict], best: dict, metric: str, seconds: float) -> dict:
    """The search in one record: best and default (trial 0) scores, baselines, budget."""
    return {
        "metric": metric,
        "best_value": round(best["metrics"][metric], 5),
        "default_value": round(results[0]["metrics"][metric], 5),
        "trials": len(results),
        "seconds": round(seconds, 1),
        "validation_baselines": {
            src: round(m[metric], 5) for src, m in best.get("baselines", {}).items()
        },
    }


def write_tuned(path: Path, params: dict[str, Any], base: TrainConfig, summary: dict) -> None:
    """DATA_DIR/tuned.yaml: a config layer `recsys run` reads before --config/--set."""
    cfg, scoring = split_params(params, base)
    knobs = {k: getattr(cfg, k) for k in params if k != "scoring"}
    header = "".join(f"# {line}\n" for line in json.dumps(summary, indent=1).splitlines())
    body = yaml.safe_dump({"train": knobs, "export": {"scoring": scoring}}, sort_keys=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# written by `recsys tune`; an explicit --config/--set wins\n" + header + body)
    tmp.replace(path)


def svg_plot(values: list[float], best: list[float], metric: str) -> str:
    """A dependency-free SVG of the metric per trial and the best so far."""
    width, height, pad = 640, 320, 40
    top = max([*values, 1e-9]) * 1.1
    n = max(len(values) - 1, 1)

    def xy(i: int, v: float) -> str:
        x = pad + i * (width - 2 * pad) / n
        y = height - pad - v / top * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    dots = "".join(
        f'<circle cx="{xy(i, v).split(",")[0]}" cy="{xy(i, v).split(",")[1]}" r="3" '
        'fill="#4477aa"/>'
        for i, v in enumerate(values)
    )
    line = " ".join(xy(i, v) for i, v in enumerate(best))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="black"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>'
        f'<polyline points="{line}" fill="none" stroke="#cc3311" stroke-width="2"/>{dots}'
        f'<text x="{pad}" y="{pad - 10}" font-family="sans-serif" font-size="13">'
        f"{metric} per trial (dots) and best so far (line); max {max(values, default=0):.4f}"
        f"</text>"
        f'<text x="{width / 2}" y="{height - 8}" font-family="sans-serif" font-size="12">'
        "trial</text></svg>"
    )


def write_outputs(folder: Path, results: list[dict], metric: str, summary: dict) -> None:
    """trials.json and the plot into the search's folder; a table and a link artifact."""
    values = [r["metrics"][metric] for r in results]
    best_so_far = [max(values[: i + 1]) for i in range(len(values))]
    (folder / TRIALS).write_text(json.dumps({"summary": summary, "trials": results}, indent=1))
    (folder / TRIALS_PLOT).write_text(svg_plot(values, best_so_far, metric))
    if not in_prefect_run():
        return
    from prefect.artifacts import create_link_artifact, create_table_artifact

    table = [
        {"trial": r["trial"], metric: round(r["metrics"][metric], 4), "seconds": r["seconds"]}
        | r["params"]
        for r in results
    ]
    create_table_artifact(table=table, key="recsys-tune-trials", description="all trials")
    create_link_artifact(
        link=f"file://{folder / TRIALS_PLOT}",
        link_text=f"{metric} per trial (plot)",
        key="recsys-tune-plot",
        description=json.dumps(summary),
    )
