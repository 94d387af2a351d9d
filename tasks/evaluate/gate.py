"""The evaluation gate: every publish rule with its observed value, threshold and verdict.

Pure functions over the metrics dict and a few embedding statistics, so each rule is unit
tested on numbers worked out by hand. Rules (see docs/evaluation.md):

- embedding sanity: finite vectors, input-vector norms in range, vocabulary coverage of
  the test events;
- absolute floor on HR@K;
- lift over every configured baseline;
- no regression beyond a tolerance against the champion (skipped when none is published).

The ANN recall check belongs to the publish/export stage; it appends its own rule to the
manifest's gate verdicts there (`ann_recall`), so it is not evaluated here.
"""

from __future__ import annotations

import numpy as np

from recsys.config import GateConfig

MODEL = "item2vec"
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


def gate_verdicts(metrics: dict, stats: dict, cfg: GateConfig) -> list[dict]:
    """Each rule with its observed value, threshold and verdict.

    Parameters
    ----------
    metrics
        The metrics dict of `recsys.tasks.evaluate` (needs `models` and `vocab_coverage`).
    stats
        `embedding_stats` of the evaluated model.
    cfg
        Thresholds and tolerances.
    """
    at = f"hr@{cfg.k}"
    models = metrics["models"]
    hr = models[MODEL][at]
    rules = [
        _rule("finite_vectors", stats["finite"], True, stats["finite"]),
        _rule(
            "vector_norms_in_range",
            [round(stats["min_norm"], 6), round(stats["max_norm"], 6)],
            [cfg.min_vector_norm, cfg.max_vector_norm],
            cfg.min_vector_norm <= stats["min_norm"] and stats["max_norm"] <= cfg.max_vector_norm,
        ),
        _rule(
            "vocab_coverage_of_test_events",
            round(metrics["vocab_coverage"], 6),
            cfg.min_vocab_coverage,
            metrics["vocab_coverage"] >= cfg.min_vocab_coverage,
        ),
        _rule(f"min_{at}", round(hr, 6), cfg.min_hr, hr >= cfg.min_hr),
    ]
    for name in cfg.baselines:
        other = models[name][at]
        rules.append(
            _rule(
                f"lift_{at}_over_{name}",
                _lift(hr, other),
                cfg.min_lift,
                # A baseline scoring 0 is beaten by any positive HR (lift is undefined).
                hr > 0 and hr >= other * (1 + cfg.min_lift),
                note=f"{MODEL} {hr:.4f} vs {name} {other:.4f}",
            )
        )
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
