"""The evaluate stage's own choice of how its vectors are served (`evaluate.select_weights`):
on one half of the held-out sessions, drawn by hash, while the gate scores the other half,
so the lists it judges were not chosen on the cases it judges them by. The grid and its
rules are `choice.py`'s, shared with `recsys tune`.

What a config layer sets is kept (its weights face only the baseline points); what none
sets is chosen: the weights, the count channel among the item baselines, and under the
``sym`` index whether single-item lists query it ``sym`` or ``in_out`` (``sym_in_out``).
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from recsys.config import ChannelWeights, EvaluateConfig, ExportConfig, PipelineConfig
from recsys.model.index import ITEM_SCORINGS
from recsys.tasks.evaluate.choice import (
    BASELINE_POINTS,
    SERVING_KEYS,
    best_choice,
    serving_grid,
)
from recsys.tasks.evaluate.shards import ALL_SESSIONS, Scored, sample_share


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


def item_scorings(cfg: PipelineConfig, scoring: str) -> tuple[str, ...]:
    """How single-item lists may query the index, when no config layer sets
    `export.scoring` and the scoring is one of ITEM_SCORINGS: as the session lists do
    (``sym``) or by the model's own logit (``sym_in_out``). Which is better moves with
    `train.ns_exponent` and the log (docs/evaluation.md)."""
    if "scoring" in cfg.export.model_fields_set or scoring not in ITEM_SCORINGS:
        return ()
    return ITEM_SCORINGS


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
        item_scorings(cfg, model.scoring),
    )
    if grid.item_cases < cfg.evaluate.select_min_cases:
        return None
    best = best_choice(grid, metric, cfg)
    export = best["export"]
    if rival_channels(cfg):
        export["count_channel"] = grid.channel
    if item_scorings(cfg, model.scoring):
        export["scoring"] = grid.item_scoring
    chosen = Scored(
        emb=model.emb,
        scoring=export.get("scoring", model.scoring),
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
    if "scoring" in chosen:
        details["scoring chosen"] = chosen["scoring"]
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
