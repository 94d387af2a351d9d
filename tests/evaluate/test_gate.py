"""Gate rules on numbers worked out by hand."""

from __future__ import annotations

import numpy as np

from recsys.config import GateConfig
from recsys.tasks.evaluate.gate import embedding_stats, failures, gate_verdicts

OK_STATS = {"finite": True, "min_norm": 0.5, "max_norm": 4.0}


def _metrics(model: float, popular: float, cooc: float, champion: float | None = None) -> dict:
    models = {
        "item2vec": {"hr@20": model},
        "popularity": {"hr@20": popular},
        "cooccurrence": {"hr@20": cooc},
    }
    out = {"models": models, "vocab_coverage": 0.95}
    if champion is not None:
        models["champion"] = {"hr@20": champion}
        out["champion"] = {"run_id": "R1"}
    return out


def _failed(rules: list[dict]) -> list[str]:
    return [r["rule"] for r in rules if not r["passed"]]


def test_all_rules_pass_and_champion_is_skipped_when_absent():
    rules = gate_verdicts(_metrics(0.20, 0.07, 0.15), OK_STATS, GateConfig(min_hr=0.1))
    assert _failed(rules) == []
    champ = rules[-1]
    assert champ["rule"] == "not_worse_than_champion_hr@20"
    assert champ["note"] == "skipped: no published champion"


def test_lists_must_beat_the_strongest_baseline_of_their_kind():
    # 0.16 beats popularity by 129% but is below co-occurrence (0.165), the strongest.
    rules = gate_verdicts(_metrics(0.16, 0.07, 0.165), OK_STATS, GateConfig())
    assert _failed(rules) == ["item_lists_vs_best_baseline_hr@20"]
    assert "cooccurrence 0.1650" in failures(rules) and "needs 0.0" in failures(rules)
    # The margin: 0.17 is 3% over 0.165, not the 5% asked.
    margin = GateConfig(min_lift=0.05)
    assert _failed(gate_verdicts(_metrics(0.17, 0.07, 0.165), OK_STATS, margin)) == [
        "item_lists_vs_best_baseline_hr@20"
    ]
    only_pop = GateConfig(baselines=["popularity"])
    assert _failed(gate_verdicts(_metrics(0.16, 0.07, 0.165), OK_STATS, only_pop)) == []
    # A model scoring zero never passes, even against baselines that also score zero.
    assert "item_lists_vs_best_baseline_hr@20" in _failed(
        gate_verdicts(_metrics(0.0, 0.0, 0.0), OK_STATS, GateConfig())
    )


def test_session_lists_are_compared_with_session_baselines_only():
    metrics = _metrics(0.20, 0.07, 0.15)
    # `sr` is an item baseline: however good, it is not what session lists compete with.
    metrics["session_models"] = {
        "item2vec": {"hr@20": 0.25},
        "sr_prefix": {"hr@20": 0.30},
        "vsknn": {"hr@20": 0.20},
        "sr": {"hr@20": 0.90},
    }
    rules = gate_verdicts(metrics, OK_STATS, GateConfig())
    assert _failed(rules) == ["session_lists_vs_best_baseline_hr@20"]
    assert "sr_prefix 0.3000" in failures(rules)
    metrics["session_models"]["item2vec"] = {"hr@20": 0.31}
    assert _failed(gate_verdicts(metrics, OK_STATS, GateConfig())) == []


def test_champion_tolerance():
    cfg = GateConfig(champion_tolerance=0.05)
    # 0.19 vs champion 0.20 is a 5% drop: allowed; 0.18 (10%) is refused.
    assert _failed(gate_verdicts(_metrics(0.19, 0.07, 0.15, 0.20), OK_STATS, cfg)) == []
    rules = gate_verdicts(_metrics(0.18, 0.07, 0.15, 0.20), OK_STATS, cfg)
    assert _failed(rules) == ["not_worse_than_champion_hr@20"]
    assert "R1" in rules[-1]["note"]


def test_embedding_sanity_rules():
    vectors = np.ones((3, 4), dtype=np.float32)
    stats = embedding_stats(vectors, vectors)
    assert stats == {"finite": True, "min_norm": 2.0, "max_norm": 2.0}
    metrics = _metrics(0.2, 0.07, 0.15)
    vectors[1] = 0.0
    zero = gate_verdicts(metrics, embedding_stats(vectors, vectors), GateConfig())
    assert _failed(zero) == ["vector_norms_in_range"]
    context = vectors.copy()
    context[2, 0] = np.inf
    vectors[1] = 1.0
    assert _failed(gate_verdicts(metrics, embedding_stats(vectors, context), GateConfig())) == [
        "finite_vectors"
    ]
    metrics["vocab_coverage"] = 0.5
    assert _failed(gate_verdicts(metrics, OK_STATS, GateConfig())) == [
        "vocab_coverage_of_test_events"
    ]


def test_a_shortfall_within_the_paired_noise_passes():
    # 1,000 cases: the model 0.245 vs co-occurrence 0.25, with 60 cases only the model hit
    # and 65 only co-occurrence hit: the difference (-0.005) is well inside 1.64 standard
    # errors (1.64 x sqrt(0.125 / 1000) = 0.018); with 0 and 5 discordant cases (all the
    # difference, 1.64 x sqrt(0.005 / 1000) = 0.0037) it is not.
    metrics = _metrics(0.245, 0.07, 0.25) | {"test_pairs": 1000}
    metrics["paired"] = {"item": {"cooccurrence": [60, 65]}}
    rules = gate_verdicts(metrics, OK_STATS, GateConfig())
    assert _failed(rules) == []
    assert "standard errors" in rules[4]["note"]
    metrics["paired"] = {"item": {"cooccurrence": [0, 5]}}
    assert _failed(gate_verdicts(metrics, OK_STATS, GateConfig())) == [
        "item_lists_vs_best_baseline_hr@20"
    ]
    exact = GateConfig(significance=0)
    metrics["paired"] = {"item": {"cooccurrence": [60, 65]}}
    assert _failed(gate_verdicts(metrics, OK_STATS, exact)) == ["item_lists_vs_best_baseline_hr@20"]


def test_the_best_of_several_baselines_must_be_ahead_by_more_than_one_comparison():
    # 9,766 cases, the published lists 0.6830; item-kNN 0.6848 with 24 cases only the
    # lists hit and 42 only item-kNN hit: a shortfall of 2.2 standard errors (sqrt(66) /
    # 9766 = 0.00083 each). Against one baseline 1.64 standard errors refuse it; as the
    # best of five level item baselines it needs 2.32 (one-sided 5% / 5), so it passes.
    names = ["popularity", "cooccurrence", "sr", "cooc_window", "iknn"]
    models = {"item2vec": {"hr@20": 0.6830}} | {n: {"hr@20": 0.6800} for n in names}
    models["iknn"] = {"hr@20": 0.6848}
    metrics = {"models": models, "vocab_coverage": 1.0, "test_pairs": 9766}
    metrics["paired"] = {"item": {"iknn": [24, 42]}}
    rules = gate_verdicts(metrics, OK_STATS, GateConfig())
    assert _failed(rules) == []
    assert "2.32 standard errors" in rules[4]["note"] and "Bonferroni over 5" in rules[4]["note"]
    alone = GateConfig(baselines=["iknn"])
    assert _failed(gate_verdicts(metrics, OK_STATS, alone)) == ["item_lists_vs_best_baseline_hr@20"]
    # Three times as many discordant cases the other way is no chance: refused still.
    metrics["paired"] = {"item": {"iknn": [0, 66]}}
    models["item2vec"] = {"hr@20": 0.6780}
    assert _failed(gate_verdicts(metrics, OK_STATS, GateConfig())) == [
        "item_lists_vs_best_baseline_hr@20"
    ]
