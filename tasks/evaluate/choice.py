"""Choosing how trained vectors are served: the channel weights of the item lists and of the
session lists, and the session decay, each the best of a small grid on held-out cases.

Serving choices cost no retraining, so they are searched exhaustively (Caselles-Dupré et al.
2018: how vectors are scored matters as much as how they are trained). Two callers:

- `recsys tune`, per trial, on its validation tail (tasks/tune/trial.py);
- the evaluate stage of a run whose weights no config layer sets (`evaluate.select_weights`,
  tasks/evaluate/selection.py).

The grid holds the embedding alone, mixed with the count channel and popularity, and the
count channel or popularity alone: what is chosen is never below those on the cases it was
chosen on (a basket log where popularity wins gets popularity-heavy lists, not a refusal).
Unless a config layer names it, the count channel itself is one of the item baselines,
the one the chosen lists beat the baselines with most (`serving_grid`'s `rivals`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from recsys import sqlrun
from recsys.config import ChannelWeights, PipelineConfig
from recsys.model.embedding import Embedding
from recsys.model.scoring import COUNT, decay_weights
from recsys.tasks.evaluate.hits import open_cases
from recsys.tasks.evaluate.lists import channels_of, count_lists
from recsys.tasks.evaluate.pooled import Pooled
from recsys.tasks.evaluate.ranks import Cases, item_cases, rank_rates, session_cases

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
    item_scoring: str | None = None  # how its item lists queried the index

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
    item_scorings: tuple[str, ...] = (),
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
    than refused by the gate.

    With `item_scorings` (scorings that query the same index differently for single items:
    ``sym`` and ``sym_in_out``), the item lists are scored under each and the one whose
    chosen point ranks higher is kept (`Grid.item_scoring`; ties keep `scoring`)."""
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
    item_parts = {scoring: shared.for_items(queries, depth, (1.0, 0.0, 1.0))}
    for other in (s for s in item_scorings if s != scoring):
        alt = shared.with_item_queries(emb.item_queries(other))
        item_parts[other] = alt.for_items(queries, depth, (1.0, 0.0, 1.0))
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

    def chosen_value(values: list, gains: list) -> float:
        return values[best_point([m[metric] for m in values], gains, item_points)][metric]

    for channel in finalists:
        item, item_gains, item_scoring = None, None, scoring
        for name, parts in item_parts.items():
            got, gains = scored(items, with_count(parts, item_counts[channel]), item_points)
            if item is None or chosen_value(got, gains) > chosen_value(item, item_gains):
                item, item_gains, item_scoring = got, gains, name
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
        grid.channel, grid.item_scoring = channel, item_scoring
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
