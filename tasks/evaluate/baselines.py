"""The simple baselines, computed in DuckDB SQL from the training sessions (Ludewig & Jannach
2018, 2021: tuned, these match or beat neural session models, so they are the bar).

Item baselines (a list per item, what `item_recs.parquet` competes with):

- ``popularity``: the most frequent training items;
- ``cooccurrence``: items that directly followed the item (directed, adjacent);
- ``sr``: sequential rules, pairs within `steps` positions weighted by distance;
- ``cooc_window``: undirected co-occurrence within ±`cooc_window` positions;
- ``iknn``: cosine of the items' session sets with shrinkage.

Session baselines (a list per case, what user lists and live session recall compete with):

- ``spop``: the session's own items by frequency, then popularity;
- ``sr_prefix``: the SR lists of the session's recent items, decay-weighted;
- ``vsknn``: session-kNN with position decay (vsknn.py: its neighbour search in numpy).

The count channel of the published lists is one of the item baselines
(`export.count_channel`), so the same SQL also builds it over every split in the export.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from recsys import sqlrun
from recsys.config import EvaluateConfig
from recsys.tasks.evaluate.vsknn import vsknn_lists

ALL_SPLITS = ["train", "validation", "test"]


def rule_settings(cfg: EvaluateConfig) -> dict[str, dict]:
    """The pair-count lists by name: steps, distance weighting and direction."""
    sr = cfg.baselines.sr
    return {
        "cooccurrence": {"steps": 1, "weighting": "same", "both": False},
        "sr": {"steps": sr.steps, "weighting": sr.weighting, "both": sr.both_directions},
        "cooc_window": {"steps": cfg.baselines.cooc_window, "weighting": "same", "both": True},
    }


def item_lists(
    con: duckdb.DuckDBPyConnection,
    cfg: EvaluateConfig,
    depth: int,
    *,
    sources: Iterable[str] = ("popularity", "cooccurrence", "sr", "cooc_window", "iknn"),
    splits: list[str] | None = None,
) -> None:
    """Insert each wanted item's list of each of `sources` into `candidates` (created here).

    `wanted_items` (item_id) must exist on `con`; lists are `depth` long and mined from the
    sessions of `splits` (default: the training split)."""
    splits = splits or ["train"]
    sources = list(sources)
    sqlrun.run(con, "evaluate/candidates")
    rules = {name: p for name, p in rule_settings(cfg).items() if name in sources}
    if len(rules) == 1:  # one aggregation straight from the sessions (the export's channel)
        (name, params), *_ = rules.items()
        params = {"source": name, "depth": depth, "splits": splits, **params}
        sqlrun.run(con, "evaluate/rule_direct", params)
    elif rules:
        steps = max(p["steps"] for p in rules.values())
        sqlrun.run(con, "evaluate/pair_counts", {"steps": steps, "splits": splits})
        for name, params in rules.items():
            sqlrun.run(con, "evaluate/rule_lists", {"source": name, "depth": depth, **params})
        con.execute("drop table pair_counts")
    if "iknn" in sources:
        params = {"shrink": cfg.baselines.iknn_shrink, "depth": depth, "splits": splits}
        sqlrun.run(con, "evaluate/iknn_lists", {**params, "source": "iknn"})
    if "popularity" in sources:
        sqlrun.run(con, "evaluate/popularity", {"depth": depth})


def session_lists(con: duckdb.DuckDBPyConnection, cfg: EvaluateConfig, depth: int) -> None:
    """Insert every session baseline's list for each case of `session_cases` into
    `session_candidates` (`session_prefix` and the `sr` lists in `candidates` must exist)."""
    b = cfg.baselines
    params = {"items": b.session_items, "decay": b.session_decay, "depth": depth}
    sqlrun.run(con, "evaluate/sr_prefix", {**params, "source": "sr_prefix", "rules": "sr"})
    sqlrun.run(con, "evaluate/spop", {"depth": depth})
    con.register("model_neighbours", vsknn_lists(con, cfg, depth))
    sqlrun.run(
        con, "evaluate/model_candidates", {"source": "vsknn"}, {"lists": "session_candidates"}
    )
