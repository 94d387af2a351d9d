"""Sessions checkpoint: validated on one row of aggregates over the cleaned sessions."""

from __future__ import annotations

import great_expectations.expectations as gxe

from recsys.config import ExtractConfig, QualityConfig

NAME = "sessions"


def suite(cfg: QualityConfig, extract: ExtractConfig) -> list[gxe.Expectation]:
    def at_least(column: str, value: float, rule: str) -> gxe.Expectation:
        return gxe.ExpectColumnMinToBeBetween(column=column, min_value=value, meta={"rule": rule})

    return [
        at_least("events", cfg.min_events, f"at least {cfg.min_events} usable events"),
        at_least(
            "train_sessions",
            cfg.min_train_sessions,
            f"at least {cfg.min_train_sessions} training sessions",
        ),
        at_least("test_sessions", 1, "at least one held-out session to evaluate on"),
        at_least("train_items", cfg.min_items, f"at least {cfg.min_items} training items"),
        at_least(
            "min_session_length",
            extract.min_session_length,
            f"every session has >= {extract.min_session_length} events",
        ),
        gxe.ExpectColumnMaxToBeBetween(
            column="max_session_length",
            max_value=cfg.max_session_length,
            meta={"rule": f"no session longer than {cfg.max_session_length} events (bots)"},
        ),
    ]
