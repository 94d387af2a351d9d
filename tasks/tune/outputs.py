"""What a search leaves: DATA_DIR/tuned.yaml (a config layer every later run reads), the
trials with their scores (trials.json), a plot, and the Prefect artifacts."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import yaml

from recsys.config import PipelineConfig
from recsys.layout import TRIALS, TRIALS_PLOT
from recsys.stage import in_prefect_run
from recsys.tasks.evaluate.charts import figure
from recsys.tasks.tune.validation import TuneSetup


def search_summary(
    results: list[dict], best: dict, setup: TuneSetup, cfg: PipelineConfig, seconds: float
) -> dict:
    """The search in one record: the best and the default (trial 0) values (the metric over
    the strongest tuned baseline of each kind), the metrics behind them and the baselines'."""
    metric = cfg.tune.metric
    return {
        "metric": metric,
        "objective": cfg.tune.objective,
        "best_value": round(best["value"], 5),
        "default_value": round(results[0]["value"], 5),
        "best_ratios": {k: round(v, 4) for k, v in best["ratios"].items()},
        "best_metrics": {
            task: {k: round(v, 5) for k, v in m.items()} for task, m in best["metrics"].items()
        },
        "trials": len(results),
        "seconds": round(seconds, 1),
        "count_channel": setup.count_channel,
        "validation_baselines": {
            "item": {src: round(m[metric], 5) for src, m in setup.item_baselines.items()},
            "session": {src: round(m[metric], 5) for src, m in setup.session_baselines.items()},
        },
    }


def tuned_tree(best: dict, setup: TuneSetup) -> dict[str, Any]:
    """The config keys a search sets: the trial's gensim knobs, how its vectors are served,
    and the tuned baselines (the bar the gate holds the model to)."""
    return {
        "train": dict(best["params"]),
        "export": {
            "scoring": best["scoring"],
            "item_weights": best["item_weights"],
            "session_weights": best["session_weights"],
            "recency_decay": best["recency_decay"],
            "count_channel": setup.count_channel,
        },
        "evaluate": {"baselines": setup.baselines},
    }


def write_tuned(path: Path, best: dict, setup: TuneSetup, summary: dict) -> None:
    """DATA_DIR/tuned.yaml: a config layer `recsys run` reads before --config/--set."""
    tree = tuned_tree(best, setup)
    PipelineConfig.model_validate(tree)  # what a later run will read must be valid now
    header = "".join(f"# {line}\n" for line in json.dumps(summary, indent=1).splitlines())
    body = yaml.safe_dump(tree, sort_keys=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# written by `recsys tune`; an explicit --config/--set wins\n" + header + body)
    tmp.replace(path)


def plot(results: list[dict], summary: dict) -> str:
    """An SVG of each trial's value and the best so far, with labelled axes and the
    default configuration's value as a reference line."""
    values = [r["value"] for r in results]
    best = [max(values[: i + 1]) for i in range(len(values))]
    fig = figure(figsize=(7, 3.6), dpi=100)
    ax = fig.subplots()
    ax.plot(range(len(values)), values, "o", color="#4477aa", label="trial")
    ax.step(range(len(best)), best, where="post", color="#cc3311", label="best so far")
    ax.axhline(values[0], color="grey", linestyle=":", label="defaults (trial 0)")
    ax.axhline(1.0, color="black", linewidth=0.8, label="strongest tuned baseline")
    ax.set_xlabel("trial")
    what = {
        "both": "mean of item and session lists",
        "item": "item lists",
        "session": "session lists",
    }[summary["objective"]]
    ax.set_ylabel(f"{summary['metric']} / best baseline")
    ax.set_title(f"Search on the validation split ({what})", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    return out.getvalue()


def write_outputs(folder: Path, results: list[dict], summary: dict) -> None:
    """trials.json and the plot into the search's folder; a table and a link artifact."""
    (folder / TRIALS).write_text(json.dumps({"summary": summary, "trials": results}, indent=1))
    (folder / TRIALS_PLOT).write_text(plot(results, summary))
    if not in_prefect_run():
        return
    from prefect.artifacts import create_link_artifact, create_table_artifact

    metric = summary["metric"]
    table = [
        {
            "trial": r["trial"],
            "value": round(r["value"], 4),
            f"item {metric}": round(r["metrics"]["item"].get(metric, 0.0), 4),
            f"session {metric}": round(r["metrics"]["session"].get(metric, 0.0), 4),
            "scoring": r["scoring"],
            "seconds": r["seconds"],
        }
        | r["params"]
        for r in results
    ]
    create_table_artifact(table=table, key="recsys-tune-trials", description="all trials")
    create_link_artifact(
        link=f"file://{folder / TRIALS_PLOT}",
        link_text="value per trial (plot)",
        key="recsys-tune-plot",
        description=json.dumps(summary),
    )
