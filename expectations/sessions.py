"""Sessions checkpoint: validated on one row of aggregates over the cleaned sessions."""

from __future__ import annotations

import great_expectations.expectations as gxe

from recsys.config import ExtractConfig, QualityConfig
from recsys.expectations.rules import at_least, at_most


def suite(cfg: QualityConfig, extract: ExtractConfig) -> list[gxe.Expectation]:
    """The sessions expectations for `sql/quality/sessions_profile.sql`'s row."""
    return [
        at_least(
            "min_events",
            "events",
            cfg.min_events,
            f"at least {cfg.min_events} usable events",
            fix="lower quality.min_events",
        ),
        at_least(
            "min_train_sessions",
            "train_sessions",
            cfg.min_train_sessions,
            f"at least {cfg.min_train_sessions} training sessions",
            fix="lower quality.min_train_sessions",
        ),
        at_least("has_test", "test_sessions", 1, "at least one held-out session to evaluate on"),
        at_least(
            "min_session_length",
            "min_session_length",
            extract.min_session_length,
            f"every session has >= {extract.min_session_length} events",
        ),
        at_most(
            "bot_share",
            "bot_event_share",
            cfg.max_bot_event_share,
            f"share of events by bot-like users (> {cfg.bot_max_user_events:,} events, or "
            f"> {cfg.bot_max_events_per_minute} in one minute) <= {cfg.max_bot_event_share}",
            fix="raise quality.max_bot_event_share, or quality.bot_max_user_events / "
            "quality.bot_max_events_per_minute for a log of heavy users",
        ),
        at_most(
            "max_session_length",
            "max_session_length",
            cfg.max_session_length,
            f"no session longer than {cfg.max_session_length} events (bots)",
            fix="raise quality.max_session_length",
        ),
        at_most(
            "p99_session_length",
            "p99_session_length",
            cfg.max_p99_session_length,
            f"99th percentile of session length <= {cfg.max_p99_session_length} events",
            "warn",
        ),
        at_most(
            "single_event_sessions",
            "single_event_session_share",
            cfg.max_single_event_session_share,
            f"share of one-event sessions <= {cfg.max_single_event_session_share}",
            "warn",
        ),
        at_most(
            "sessions_per_user",
            "max_sessions_per_user",
            cfg.max_sessions_per_user,
            f"no user has more than {cfg.max_sessions_per_user:,} sessions",
            "warn",
        ),
    ]
