"""Drift checkpoint: this run's profile against the previous successful (published) run.

Validated on one row of relative changes computed by
`recsys.tasks.quality.drift_metrics.compare`; skipped (and said so) when nothing was
published before.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from recsys.config import QualityConfig
from recsys.expectations.rules import at_least, at_most


def suite(cfg: QualityConfig) -> list[gxe.Expectation]:
    """The drift expectations for `recsys.tasks.quality.drift_metrics.compare`'s row."""
    d = cfg.drift

    def change(rule_id: str, column: str, what: str, limit: float) -> gxe.Expectation:
        rule = f"{what} within ±{limit:.0%} of the previous run"
        return at_most(rule_id, column, limit, rule, "warn")

    return [
        change("volume", "events_per_day_change", "events per day", d.max_volume_change),
        change("distinct_users", "users_change", "distinct users", d.max_distinct_change),
        change("distinct_items", "items_change", "distinct items", d.max_distinct_change),
        change(
            "session_length",
            "mean_session_length_change",
            "mean session length",
            d.max_session_length_change,
        ),
        at_least(
            "top_overlap",
            "top_overlap",
            d.min_top_overlap,
            f"share of the previous top-{d.top_k} items still in the top-{d.top_k} "
            f">= {d.min_top_overlap}",
        ),
        at_most(
            "popularity_psi",
            "popularity_psi",
            d.max_psi,
            f"PSI of item popularity (previous top-{d.top_k} + rest) <= {d.max_psi}",
        ),
    ]
