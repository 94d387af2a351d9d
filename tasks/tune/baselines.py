"""Tuning the baselines: their few parameters, each over a small grid on the validation
split, before any model is trained. The bar a model is held to is then the tuned baselines
(the gate reads them from tuned.yaml), and the strongest item baseline becomes the published
lists' count channel.

Every grid point is one more source in the same list tables, so a whole family is scored in
one pass of the evaluate stage's hit SQL (tasks/evaluate/hits.py).
"""

from __future__ import annotations

from itertools import product
from pathlib import Path

import duckdb

from recsys import sqlrun
from recsys.config import Baselines, EvaluateConfig, SequentialRules
from recsys.errors import DataQualityError
from recsys.tasks.evaluate.hits import add_lists, task_metrics
from recsys.tasks.evaluate.shards import ALL_SESSIONS
from recsys.tasks.evaluate.vsknn import vsknn_lists

SR_STEPS = (1, 2, 3, 5, 10, 20)
SR_WEIGHTINGS = ("same", "linear", "log")
COOC_WINDOWS = (1, 2, 3, 5, 10, 20)
IKNN_SHRINKS = (0.0, 10.0, 20.0, 50.0, 100.0)
PREFIX_ITEMS = (3, 5, 10, 20)
PREFIX_DECAYS = (0.5, 0.7, 0.85, 1.0)
VSKNN_NEIGHBOURS = (50, 100, 200, 500)
COUNT_CHANNELS = ("sr", "cooc_window", "iknn", "cooccurrence")


def tune_baselines(
    con: duckdb.DuckDBPyConnection,
    cfg: EvaluateConfig,
    depth: int,
    metric: str,
    lists_path: Path,
) -> dict:
    """Choose every baseline's parameters on `con`'s cases (see hits.open_cases), write the
    chosen item baselines' lists of every test item to `lists_path`, and return the chosen
    `Baselines`, the count channel and both tasks' baseline metrics."""
    sqlrun.run(con, "evaluate/wanted_items", {"sample_lo": 0, "sample_ppm": ALL_SESSIONS})
    sqlrun.run(
        con, "evaluate/pair_counts", {"steps": max(SR_STEPS + COOC_WINDOWS), "splits": ["train"]}
    )
    grid: dict[str, tuple[str, dict]] = {}
    for steps, weighting, both in product(SR_STEPS, SR_WEIGHTINGS, (True, False)):
        grid[f"sr|{steps}|{weighting}|{both}"] = (
            "sr",
            {"steps": steps, "weighting": weighting, "both": both},
        )
    for window in COOC_WINDOWS:
        grid[f"cooc_window|{window}"] = (
            "cooc_window",
            {"steps": window, "weighting": "same", "both": True},
        )
    grid["cooccurrence"] = ("cooccurrence", {"steps": 1, "weighting": "same", "both": False})
    for name, (_, params) in grid.items():
        sqlrun.run(con, "evaluate/rule_lists", {"source": name, "depth": depth, **params})
    for shrink in IKNN_SHRINKS:
        params = {"shrink": shrink, "depth": depth, "splits": ["train"], "source": f"iknn|{shrink}"}
        sqlrun.run(con, "evaluate/iknn_lists", params)
    sqlrun.run(con, "evaluate/popularity", {"depth": depth})
    item = task_metrics(con, cfg.ks, cfg.exclude_session_items, session=False)
    if not any(s.split("|")[0] == "sr" for s in item):
        # Nothing to tune on: every trial would score 0 and no baseline could be chosen.
        raise DataQualityError(
            "tune: the validation split holds no next-item case (no session of two or more "
            "events in the newest tune.validation_fraction of the training period whose "
            "items the rest of it trains): raise tune.validation_fraction, or tune on more data"
        )
    best = {family: _best(item, family, metric) for family in ("sr", "cooc_window", "iknn")}
    sr_steps, sr_weighting, sr_both = best["sr"].split("|")[1:]
    chosen = cfg.baselines.model_copy(
        update={
            "sr": SequentialRules(
                steps=int(sr_steps), weighting=sr_weighting, both_directions=sr_both == "True"
            ),
            "cooc_window": int(best["cooc_window"].split("|")[1]),
            "iknn_shrink": float(best["iknn"].split("|")[1]),
        }
    )
    renamed = {best["sr"]: "sr", best["cooc_window"]: "cooc_window", best["iknn"]: "iknn"}
    renamed |= {"cooccurrence": "cooccurrence", "popularity": "popularity"}
    item_metrics = {renamed[s]: m for s, m in item.items() if s in renamed}
    names = {"old": list(renamed), "new": list(renamed.values()), "path": str(lists_path)}
    sqlrun.run(con, "tune/chosen_lists", names)
    chosen, session_metrics = _session_baselines(con, cfg, chosen, best["sr"], depth, metric)
    channel = max(COUNT_CHANNELS, key=lambda name: item_metrics[name][metric])
    return {
        "baselines": chosen,
        "count_channel": channel,
        "item": item_metrics,
        "session": session_metrics,
    }


def _best(metrics: dict, family: str, metric: str) -> str:
    """The grid point of a family with the best metric (ties: the first in grid order)."""
    points = [s for s in metrics if s.split("|")[0] == family]
    return max(points, key=lambda s: metrics[s][metric])


def _session_baselines(
    con: duckdb.DuckDBPyConnection,
    cfg: EvaluateConfig,
    chosen: Baselines,
    rules: str,
    depth: int,
    metric: str,
) -> tuple[Baselines, dict]:
    """Choose sr_prefix's window and decay (over the chosen SR lists, source `rules`) and
    vsknn's neighbours; their metrics under the chosen settings (and spop's)."""
    for items, decay in product(PREFIX_ITEMS, PREFIX_DECAYS):
        params = {"items": items, "decay": decay, "depth": depth, "rules": rules}
        sqlrun.run(con, "evaluate/sr_prefix", {**params, "source": f"sr_prefix|{items}|{decay}"})
    sqlrun.run(con, "evaluate/spop", {"depth": depth})
    for neighbours in VSKNN_NEIGHBOURS:
        trial = cfg.model_copy(
            update={"baselines": chosen.model_copy(update={"vsknn_neighbours": neighbours})}
        )
        add_lists(con, f"vsknn|{neighbours}", vsknn_lists(con, trial, depth), session=True)
    session = task_metrics(con, cfg.ks, cfg.exclude_session_items, session=True)
    if not session:
        return chosen, {}
    prefix, knn = _best(session, "sr_prefix", metric), _best(session, "vsknn", metric)
    items, decay = prefix.split("|")[1:]
    chosen = chosen.model_copy(
        update={
            "session_items": int(items),
            "session_decay": float(decay),
            "vsknn_neighbours": int(knn.split("|")[1]),
        }
    )
    return chosen, {"sr_prefix": session[prefix], "vsknn": session[knn], "spop": session["spop"]}
