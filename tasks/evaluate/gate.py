"""The evaluation gate: every publish rule with its observed value, threshold and verdict.

Pure functions over the metrics dict and a few embedding statistics, so each rule is unit
tested on numbers worked out by hand. Rules (see docs/evaluation.md):

- embedding sanity: finite vectors, input-vector norms in range, vocabulary coverage of
  the test events (the refit reruns the first two on its own vectors);
- absolute floor on HR@K;
- the published item lists (next-item task) against the strongest item baseline, and the
  published session/user lists (session task) against the strongest session baseline: like
  with like, by `min_lift`;
- no regression beyond a tolerance against the champion (skipped when none is published).

The ANN recall check belongs to the publish/export stage; it appends its own rule to the
manifest's gate verdicts there (`ann_recall`), so it is not evaluated here.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from recsys.config import GateConfig
from recsys.config.evaluate import ITEM_BASELINES, SESSION_BASELINES

MODEL = "item2vec"  # the published lists (all channels fused)
EMBEDDING = "embedding"  # the embedding channel alone
CHAMPION = "champion"


def embedding_stats(vectors: np.ndarray, context: np.ndarray) -> dict:
    """Finite check of both matrices and min/max L2 norm of the input vectors."""
    finite = bool(np.isfinite(vectors).all() and np.isfinite(context).all())
    norms = np.linalg.norm(np.nan_to_num(vectors, nan=0.0, posinf=1e30, neginf=-1e30), axis=1)
    return {
        "finite": finite,
        "min_norm": float(norms.min()) if len(norms) else 0.0,
        "max_norm": float(norms.max()) if len(norms) else 0.0,
    }


def _rule(rule: str, observed, threshold, passed: bool, note: str = "") -> dict:
    out = {"rule": rule, "observed": observed, "threshold": threshold, "passed": bool(passed)}
    if note:
        out["note"] = note
    return out


def _lift(model: float, other: float) -> float | None:
    return round(model / other - 1, 6) if other > 0 else None


def embedding_verdicts(vectors: np.ndarray, context: np.ndarray, cfg: GateConfig) -> list[dict]:
    """The sanity rules of a trained model's vectors (the evaluated and the refit model)."""
    stats = embedding_stats(vectors, context)
    return _sanity(stats, cfg)


def _sanity(stats: dict, cfg: GateConfig) -> list[dict]:
    return [
        _rule("finite_vectors", stats["finite"], True, stats["finite"]),
        _rule(
            "vector_norms_in_range",
            [round(stats["min_norm"], 6), round(stats["max_norm"], 6)],
            [cfg.min_vector_norm, cfg.max_vector_norm],
            cfg.min_vector_norm <= stats["min_norm"] and stats["max_norm"] <= cfg.max_vector_norm,
        ),
    ]


def strongest(models: dict, names: list[str], at: str) -> tuple[str | None, float]:
    """The baseline with the highest value of `at` among `names` that were scored (ties: the
    first named); (None, 0.0) when none was."""
    scored = [(n, models[n][at]) for n in names if n in models and at in models[n]]
    if not scored:
        return None, 0.0
    return max(scored, key=lambda pair: pair[1])


def paired_error(paired: list[int] | None, cases: int) -> float:
    """Standard error of the difference of two sources' HR on the same `cases` cases, from
    the cases only the first hit and only the second hit (0 without counts)."""
    if not paired or cases <= 0:
        return 0.0
    only_model, only_source = paired
    diff = (only_model - only_source) / cases
    variance = max((only_model + only_source) / cases - diff * diff, 0.0)
    return math.sqrt(variance / cases)


def corrected(significance: float, rivals: int) -> float:
    """The z of `significance` (one-sided, one comparison) for a comparison with the best of
    `rivals` baselines (Bonferroni): the best of several near-equal baselines on the same
    cases is ahead of the rest by chance, so it must be ahead by more to count. On a
    synthetic log whose SR, item-kNN and windowed co-occurrence are level on the true
    future (HR@20 0.672 / 0.671 / 0.671), a run serving SR's own lists was refused for a
    shortfall of 2.2 standard errors to item-kNN on its test split."""
    if significance <= 0 or rivals <= 1:
        return significance
    alpha = 1.0 - NormalDist().cdf(significance)
    return NormalDist().inv_cdf(1.0 - alpha / rivals)


def _versus(
    kind: str, models: dict, names: list[str], at: str, cfg: GateConfig, paired: dict, cases: int
) -> dict | None:
    """The rule 'published lists of this kind vs the strongest baseline of the kind'."""
    if MODEL not in models:
        return None
    hr = models[MODEL][at]
    best, other = strongest(models, names, at)
    if best is None:
        return None
    rivals = sum(1 for n in names if at in models.get(n, {}))
    z = corrected(cfg.significance, rivals)
    margin = z * paired_error(paired.get(best), cases)
    note = f"{MODEL} {hr:.4f} vs {best} {other:.4f}"
    if margin:
        why = (
            f": {cfg.significance:g} for one, Bonferroni over {rivals}"
            if z != cfg.significance
            else ""
        )
        note += (
            f"; a shortfall up to {margin:.4f} ({z:.3g} standard errors of the paired"
            f" difference{why}) is within noise"
        )
    return _rule(
        f"{kind}_lists_vs_best_baseline_{at}",
        _lift(hr, other),
        cfg.min_lift,
        # A baseline scoring 0 is beaten by any positive HR (the lift is undefined).
        hr > 0 and hr >= other * (1 + cfg.min_lift) - margin,
        note=note,
    )


def gate_verdicts(metrics: dict, stats: dict, cfg: GateConfig) -> list[dict]:
    """Each rule with its observed value, threshold and verdict.

    Parameters
    ----------
    metrics
        The metrics dict of `recsys.tasks.evaluate` (needs `models`, `session_models` when
        the session task ran, and `vocab_coverage`).
    stats
        `embedding_stats` of the evaluated model.
    cfg
        Thresholds and tolerances.
    """
    at = f"hr@{cfg.k}"
    models = metrics["models"]
    hr = models[MODEL][at]
    rules = [
        *_sanity(stats, cfg),
        _rule(
            "vocab_coverage_of_test_events",
            round(metrics["vocab_coverage"], 6),
            cfg.min_vocab_coverage,
            metrics["vocab_coverage"] >= cfg.min_vocab_coverage,
        ),
        _rule(f"min_{at}", round(hr, 6), cfg.min_hr, hr >= cfg.min_hr),
    ]
    item_names = [b for b in cfg.baselines if b in ITEM_BASELINES]
    session_names = [b for b in cfg.baselines if b in SESSION_BASELINES]
    paired = metrics.get("paired", {})
    for kind, scored, names, cases in (
        ("item", models, item_names, metrics.get("test_pairs", 0)),
        (
            "session",
            metrics.get("session_models") or {},
            session_names,
            metrics.get("session_cases", 0),
        ),
    ):
        rule = _versus(kind, scored, names, at, cfg, paired.get(kind, {}), cases)
        if rule is not None:
            rules.append(rule)
    champ = models.get(CHAMPION, {}).get(at)
    if champ is None:
        rules.append(
            _rule(
                f"not_worse_than_champion_{at}",
                None,
                -cfg.champion_tolerance,
                True,
                note="skipped: no published champion",
            )
        )
    else:
        rules.append(
            _rule(
                f"not_worse_than_champion_{at}",
                _lift(hr, champ),
                -cfg.champion_tolerance,
                hr >= champ * (1 - cfg.champion_tolerance),
                note=f"{MODEL} {hr:.4f} vs champion {champ:.4f} "
                f"({metrics.get('champion', {}).get('run_id', '?')})",
            )
        )
    return rules


def failures(rules: list[dict]) -> str:
    """One line naming every failed rule with its numbers ('' when all passed)."""
    return "; ".join(
        f"{r['rule']}: observed {r['observed']}, needs {r['threshold']}"
        + (f" ({r['note']})" if r.get("note") else "")
        for r in rules
        if not r["passed"]
    )
