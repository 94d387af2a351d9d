"""Training-corpus checkpoint: enough items and tokens, and a training vocabulary that
covers the held-out split."""

from __future__ import annotations

import great_expectations.expectations as gxe

from recsys.config import QualityConfig
from recsys.expectations.rules import at_least


def suite(cfg: QualityConfig) -> list[gxe.Expectation]:
    """The corpus expectations for `sql/quality/corpus_profile.sql`'s row."""
    return [
        at_least(
            "min_items",
            "train_items",
            cfg.min_items,
            f"at least {cfg.min_items} training items",
            fix="lower quality.min_items",
        ),
        at_least(
            "min_tokens",
            "train_tokens",
            cfg.min_tokens,
            f"at least {cfg.min_tokens} training tokens (events in training sessions)",
            fix="lower quality.min_tokens",
        ),
        at_least(
            "test_coverage",
            "test_coverage",
            cfg.min_test_coverage,
            f"share of held-out tokens whose item is in the training vocabulary "
            f">= {cfg.min_test_coverage}",
            fix="lower quality.min_test_coverage",
        ),
    ]
