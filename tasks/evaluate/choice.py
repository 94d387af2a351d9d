"""Choosing how trained vectors are served: the channel weights of the item lists and of the
session lists, and the session decay, each the best of a small grid on held-out cases.

Serving choices cost no retraining, so they are searched exhaustively (Caselles-Dupré et al.
2018: how vectors are scored matters as much as how they are trained). Two callers:

- `recsys tune`, per trial, on its validation tail (tasks/tune/trial.py);
- the evaluate stage of a run whose weights no config layer sets (`evaluate.select_weights`):
  on one half of the held-out sessions, drawn by hash, while the gate scores the other half,
  so the lists it judges were not chosen on the cases it judges them by.

The grid holds the embedding alone, mixed with the count channel and popularity, and the
count channel or popularity alone: what is chosen is never below those on the cases it was
chosen on (a basket log where popularity wins gets popularity-heavy lists, not a refusal).
Unless a config layer names it, the count channel itself is one of the item baselines,
the one the chosen lists beat the baselines with most (`serving_grid`'s `rivals`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import numpy as np
import pyarrow as pa

from recsys import sqlrun
from recsys.config import ChannelWeights, EvaluateConfig, ExportConfig, PipelineConfig
from recsys.model.embedding import Embedding
from recsys.model.scoring import COUNT, decay_weights
from recsys.tasks.evaluate.hits import open_cases
from recsys.tasks.evaluate.lists import channels_of, count_lists
from recsys.tasks.evaluate.pooled import Pooled
from recsys.tasks.evaluate.ranks import Cases, item_cases, rank_rates, session_cases
from recsys.tasks.evaluate.shards import ALL_SESSIONS, Scored, sample_share

SERVING_KEYS = {"item_weights", "session_weights", "recency_decay"}

# (embedding, count, popularity): the embedding alone and with the others mixed in, and the
# count channel or popularity alone (so a search can never end below those baselines).
WEIGHT_GRID = [
    *((1.0, count, pop) for count in (0.0, 0.25, 0.5, 1.0, 2.0) for pop in (0.0, 0.1, 0.3)),
    (0.0, 1.0, 0.0),
    (0.0, 1.0, 0.1),
    (0.0, 0.0, 1.0),
]
DECAYS = (0.5, 0.7, 0.85, 1.0)


# The points that list what a baseline lists: the count channel alone (the `sr` item lists,
# about `sr_prefix` for sessions) and popularity alone.
BASELINE_POINTS = ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


@dataclass
class Grid:
    """Each point's metrics: `item[i]` for `item_points[i]`, `session[i]` for
    `session_points[i]` (session lists with `decay`), and each case's share of the ranking
    metric (`item_gains[i]`: 1/0 for HR, 1/rank for MRR); `session` is empty when there are
    no session cases."""

    item: list[dict]
    session: list[dict]
    decay: float
    item_gains: list[np.ndarray]
    session_gains: list[np.ndarray]
    item_points: list[tuple] = field(default_factory=lambda: list(WEIGHT_GRID))
    session_points: list[tuple] = field(default_factory=lambda: list(WEIGHT_GRID))
    channel: str | None = None  # the count channel the grid was scored with

    @property
    def item_cases(self) -> int:
        return len(self.item_gains[0]) if self.item_gains else 0

    @property
    def session_cases(self) -> int:
        return len(self.session_gains[0]) if self.session_gains else 0


def argmax(values: list[float]) -> int:
    """Index of the largest value (the first of ties: grids list the simpler option first)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def best_point(
    values: list[float], gains: list[np.ndarray] | None = None, points: list | None = None
) -> int:
    """The index of the point of `points` (default WEIGHT_GRID) to serve: the largest
    value, of tied points the one that mixes the fewest channels (a tie says the extra
    channel adds nothing these cases can see: on a basket log popularity alone tied with a
    three-channel mix on one half of the sessions and won by 0.018 on the other), then the
    first.

    With the cases' `gains`, the one-standard-error rule (Breiman et al. 1984): a point
    that mixes in the embedding must beat the best baseline point (BASELINE_POINTS) by
    more than one standard error of their paired difference, else that baseline point is
    served. The choice is made on one half of the cases and judged on the other: a mix
    ahead by noise alone lost to `sr_prefix` on the other half of a movie-rating log."""
    points = WEIGHT_GRID if points is None else points
    used = [sum(w > 0 for w in point) for point in points]
    best = max(range(len(values)), key=lambda i: (values[i], -used[i], -i))
    bases = [i for i, p in enumerate(points) if p in BASELINE_POINTS]
    if gains is None or points[best] in BASELINE_POINTS or not bases:
        return best
    base = max(bases, key=lambda i: (values[i], -i))
    diff = gains[best] - gains[base]
    error = float(diff.std() / np.sqrt(len(diff))) if len(diff) else 0.0
    return best if values[best] - values[base] > error else base


def metric_gains(ranks: np.ndarray, metric: str) -> np.ndarray:
    """Each case's share of `metric` (e.g. "hr@20") given its hit rank (0: a miss); their
    mean is the metric."""
    name, k = metric.split("@")
    hit = (ranks > 0) & (ranks <= int(k))
    safe = np.maximum(ranks, 1).astype(np.float64)
    share = {"hr": np.ones_like(safe), "mrr": 1.0 / safe, "ndcg": 1.0 / np.log2(safe + 1)}
    return np.where(hit, share[name], 0.0)


def weights_of(point: tuple[float, float, float]) -> dict[str, float]:
    return dict(zip(ChannelWeights.model_fields, point, strict=True))


def serving_grid(
    stage_db: Path,
    emb: Embedding,
    scoring: str,
    cfg: PipelineConfig,
    lists_path: Path,
    count_channel: str,
    session_cases_max: int,
    metric: str,
    sample: tuple[int, int] | None = None,
    decays: tuple[float, ...] = DECAYS,
    points: tuple[list, list] | None = None,
    rivals: tuple[str, ...] = (),
) -> Grid:
    """Score the grid on the held-out cases of `stage_db` (the sessions whose hash falls in
    `sample`, millionths [lo, hi); None: all), with the count channel's lists read from
    `lists_path`, ranked by `metric` (e.g. "hr@20"). The decay is chosen among `decays`
    with the configured session weights (each decay is one more FAISS search of every
    session), then the session weights with that decay. `points` are the (item, session)
    weightings to score (default: WEIGHT_GRID for both). Each weighting is scored from the
    pooled channels (pooled.py), not by fusing its lists.

    With `rivals` (other item baselines that can be the count channel), the one whose
    lists alone rank best is scored too, and the grid of the channel that leaves the
    chosen lists furthest above the best baseline point of either kind is returned
    (`Grid.channel`): a log where item-kNN beats SR is served with item-kNN lists rather
    than refused by the gate."""
    item_points, session_points = points or (list(WEIGHT_GRID), list(WEIGHT_GRID))
    depth = max(cfg.evaluate.ks) + cfg.evaluate.list_depth
    ks = sorted({*cfg.evaluate.ks, int(metric.split("@")[1])})
    exclude = cfg.evaluate.exclude_session_items
    names = list(dict.fromkeys([count_channel, *rivals]))
    with open_cases(stage_db, session_cases_max, sample) as con:
        sqlrun.run(con, "evaluate/all_lists", {"path": str(lists_path)})
        counts = {c: sqlrun.arrow(con, "evaluate/channel_lists", {"source": c}) for c in names}
        items, queries = item_cases(con, emb)
        prefix = con.sql("select pair_id, item_id, recency from session_prefix").to_arrow_table()
        recent = SessionQueries(emb, prefix, cfg.export.user_history)
        sessions = session_cases(con, emb, recent.cases)
    shared = channels_of(emb, scoring, None, emb.counts)
    own = {c: shared.with_counts(count_lists(emb, counts[c])) for c in names}
    # The embedding and popularity lists once; each channel adds only its count lists.
    item_parts = shared.for_items(queries, depth, (1.0, 0.0, 1.0))
    item_counts = {c: own[c].for_items(queries, depth, (0.0, 1.0, 0.0))[COUNT] for c in names}
    finalists = [count_channel]
    if len(names) > 1:
        alone = {c: rank_rates(items.hit_ranks(item_counts[c][0], exclude), ks) for c in names}
        best = max(names, key=lambda c: (alone[c][metric], -names.index(c)))
        finalists += [best] if best != count_channel else []

    def scored(cases: Cases, pooled: Pooled, points: list) -> tuple[list, list]:
        ranks = [pooled.ranks(cases, w, depth, exclude) for w in points]
        return [rank_rates(r, ks) for r in ranks], [metric_gains(r, metric) for r in ranks]

    def with_count(parts: list, count: tuple) -> Pooled:
        return Pooled([parts[0], count, parts[2]])

    # Each decay's session search (embedding, popularity) once for every finalist.
    session_parts = (
        {d: recent.channels(shared, d, depth, (1.0, 0.0, 1.0)) for d in decays}
        if len(sessions)
        else {}
    )
    grids = {}
    for channel in finalists:
        item_pool = with_count(item_parts, item_counts[channel])
        item, item_gains = scored(items, item_pool, item_points)
        grid = Grid(item, [], cfg.export.recency_decay, item_gains, [], item_points, [])
        if len(sessions):
            by_decay = {}
            for d, parts in session_parts.items():
                count = recent.channels(own[channel], d, depth, (0.0, 1.0, 0.0))[COUNT]
                by_decay[d] = with_count(parts, count)
            decay = decays[0]
            if len(decays) > 1:
                default = [cfg.export.session_weights.of()]
                decay = decays[
                    argmax([scored(sessions, by_decay[d], default)[0][0][metric] for d in decays])
                ]
            session, session_gains = scored(sessions, by_decay[decay], session_points)
            grid = Grid(
                item, session, decay, item_gains, session_gains, item_points, session_points
            )
        grid.channel = channel
        grids[channel] = grid
    return max(
        grids.values(), key=lambda g: (lead(g, grids.values(), metric), g is grids[count_channel])
    )


def lead(grid: Grid, grids, metric: str) -> float:
    """How far the point chosen from `grid` stays above the best baseline point of any of
    `grids` (each channel alone, popularity alone), for the kind where it is closest: the
    gate refuses lists below the strongest baseline of their kind."""
    gaps = []
    for kind in ("item", "session"):
        values = getattr(grid, kind)
        if not values:
            continue
        points = getattr(grid, f"{kind}_points")
        gains = getattr(grid, f"{kind}_gains")
        chosen = values[best_point([m[metric] for m in values], gains, points)][metric]
        bar = max(
            getattr(g, kind)[i][metric]
            for g in grids
            for i, p in enumerate(getattr(g, f"{kind}_points"))
            if p in BASELINE_POINTS and getattr(g, kind)
        )
        gaps.append(chosen - bar)
    return min(gaps, default=0.0)


def best_choice(grid: Grid, metric: str, cfg: PipelineConfig) -> dict:
    """The export keys of the grid's best item and session points under `metric` (session
    weights and decay stay as configured when there were no session cases), and what they
    scored on the cases they were chosen on (`scored`: the metric, `metrics`: every one)."""
    i = best_point([m[metric] for m in grid.item], grid.item_gains, grid.item_points)
    chosen = {"item_weights": weights_of(grid.item_points[i])}
    metrics = {"item": grid.item[i]}
    if grid.session:
        s = best_point([m[metric] for m in grid.session], grid.session_gains, grid.session_points)
        chosen |= {
            "session_weights": weights_of(grid.session_points[s]),
            "recency_decay": grid.decay,
        }
        metrics["session"] = grid.session[s]
    scored = {kind: m[metric] for kind, m in metrics.items()}
    return {"export": chosen, "scored": scored, "metrics": metrics}


class SessionQueries:
    """The session cases as (owner, row, recency) of their known recent items; `cases` are
    the pair ids that have at least one, in list order."""

    def __init__(self, emb: Embedding, prefix: pa.Table, history: int) -> None:
        pair = prefix.column("pair_id").to_numpy()
        rows = emb.rows_of(prefix.column("item_id"))
        recency = prefix.column("recency").to_numpy()
        keep = (rows >= 0) & (recency < history)
        self.cases, self.owner = np.unique(pair[keep], return_inverse=True)
        self.rows, self.recency = rows[keep], recency[keep]

    def channels(self, channels, decay: float, depth: int, which=(1.0, 1.0, 1.0)):
        """The lists of `channels` (those of nonzero weight in `which`) per session."""
        weights = decay_weights(self.recency, decay)
        n = len(self.cases)
        return channels.for_sessions(self.owner, self.rows, weights, n, depth, which)


def candidate_points(cfg: PipelineConfig) -> tuple[list, list] | None:
    """The (item, session) weightings a run chooses among: the whole grid when no config
    layer sets the weights; when one does (tuned.yaml, a config file, --set, the UI form),
    the configured weights against the baseline points only, so a mix chosen on older
    validation data or by hand is kept unless it no longer beats the count channel or
    popularity alone by a standard error (a tuned mix that won on a basket log's
    validation split lost to popularity on its newer sessions, and the run was refused)."""
    if not cfg.export.model_fields_set & SERVING_KEYS:
        return None
    configured = [cfg.export.item_weights.of(), cfg.export.session_weights.of()]
    return tuple([point, *(b for b in BASELINE_POINTS if b != point)] for point in configured)


def rival_channels(cfg: PipelineConfig) -> tuple[str, ...]:
    """The item baselines a run may serve as its count channel: all of them when no config
    layer names one (the tuner's or the user's choice is kept)."""
    if "count_channel" in cfg.export.model_fields_set:
        return ()
    return get_args(ExportConfig.model_fields["count_channel"].annotation)


def split_sample(stage_db: Path, ev: EvaluateConfig) -> tuple[int, tuple[int, int]]:
    """(the gate's hash bound, the choosing hash range), in millionths of the held-out
    sessions (evaluate/pairs): on a log with more held-out cases than `evaluate.max_cases`
    plus `evaluate.select_cases`, the gate keeps its sample [0, g) and the choice draws
    about `select_cases` from the rest; a smaller log is cut in two halves."""
    gate = sample_share(stage_db, ev.max_cases)
    pick = sample_share(stage_db, ev.select_cases)
    if gate + pick <= ALL_SESSIONS:
        return gate, (gate, gate + pick)
    half = ALL_SESSIONS // 2
    return half, (half, ALL_SESSIONS)


def choose(
    stage_db: Path, model: Scored, cfg: PipelineConfig, lists_path: Path, sample: tuple[int, int]
) -> dict | None:
    """Choose the model's serving weights among `candidate_points` on the held-out
    sessions whose hash is in `sample` (see `split_sample`), by the gate's metric; None
    (keep the configured ones, gate every sampled case) when they hold fewer than
    `evaluate.select_min_cases` next-item cases. The result holds the chosen `model`, the
    `export` keys to serve it with and the hash range it was chosen on (`sample`)."""
    metric = f"hr@{cfg.gate.k}"
    points = candidate_points(cfg)
    grid = serving_grid(
        stage_db,
        model.emb,
        model.scoring,
        cfg,
        lists_path,
        cfg.export.count_channel,
        cfg.evaluate.session_cases,
        metric,
        sample,
        # The configured decay: each decay tried is one more search of every session (the
        # tuner tries DECAYS).
        (cfg.export.recency_decay,),
        points,
        rival_channels(cfg),
    )
    if grid.item_cases < cfg.evaluate.select_min_cases:
        return None
    best = best_choice(grid, metric, cfg)
    export = best["export"]
    if rival_channels(cfg):
        export["count_channel"] = grid.channel
    chosen = Scored(
        emb=model.emb,
        scoring=model.scoring,
        weights=ChannelWeights(**export["item_weights"]),
        session_weights=export.get("session_weights", model.session_weights),
        recency_decay=export.get("recency_decay", model.recency_decay),
    )
    return {
        "model": chosen,
        "sample": list(sample),
        "metric": metric,
        "cases": grid.item_cases,
        "session_cases": grid.session_cases,
        "scored": best["scored"],
        "export": export,
        # What a config layer set (None: nothing, the whole grid was searched).
        "configured": None
        if points is None
        else {
            "item_weights": cfg.export.item_weights.model_dump(),
            "session_weights": cfg.export.session_weights.model_dump(),
        },
    }


def choice_notes(selection: dict) -> tuple[dict, list[str]]:
    """(stage details, warnings) about a choice: the cases it was made on; a configured
    weighting that was replaced by a baseline point; lists that leave the embedding out
    (still as good as the best count or popularity baseline, worth publishing, but a user
    should know the embedding is not in them)."""
    chosen, configured = selection["export"], selection["configured"]
    details = {"weights chosen on": f"{selection['cases']:,} cases"}
    if "count_channel" in chosen:
        details["count channel chosen"] = chosen["count_channel"]
    warnings = []
    kinds = [k for k in ("item_weights", "session_weights") if k in chosen]
    replaced = [k for k in kinds if configured and chosen[k] != configured[k]]
    if replaced:
        details["configured weights replaced"] = ", ".join(replaced)
        warnings.append(
            f"the configured {' and '.join(replaced)} no longer beat the count channel or "
            f"popularity alone on this run's newer sessions; serving "
            f"{ {k: chosen[k] for k in replaced} } (rerun `recsys tune`, or set "
            "evaluate.select_weights=false to keep them)"
        )
    if all(chosen[k]["embedding"] == 0 for k in kinds):
        details["embedding in the lists"] = "no"
        warnings.append(
            "on this log the embedding adds nothing the count channel or popularity does "
            f"not: the chosen lists leave it out ({chosen}); `recsys tune` searches its "
            "training knobs"
        )
    return details, warnings
