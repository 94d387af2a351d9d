"""The `quality` section: Great Expectations rules, their severities and drift tolerances."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from recsys.config.section import Section, refuse_moved


class DriftConfig(Section):
    """Tolerances against the previous successful (published) run's quality profile."""

    max_volume_change: float = Field(
        0.5, ge=0, description="Allowed relative change of events per day (warn by default)."
    )
    max_distinct_change: float = Field(
        0.5, ge=0, description="Allowed relative change of distinct users and items (warn)."
    )
    max_session_length_change: float = Field(
        0.5, ge=0, description="Allowed relative change of the mean session length (warn)."
    )
    top_k: int = Field(100, ge=1, description="How many most-popular items drift compares.")
    min_top_overlap: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Share of the previous top-k items that must still be in the top-k; "
        "re-keyed or renamed items drop it.",
    )
    max_psi: float = Field(
        0.25,
        ge=0,
        description="Population stability index of item popularity over the previous top-k "
        "items plus 'rest' (0.1-0.25 moderate, > 0.25 a real shift).",
    )


class QualityConfig(Section):
    """Great Expectations checks; failure stops the run with exit code 3."""

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        return refuse_moved("quality", data)

    min_events: int = Field(100, ge=0, description="Minimum usable events after cleaning.")
    min_train_sessions: int = Field(20, ge=0, description="Minimum training sessions.")
    min_items: int = Field(10, ge=0, description="Minimum distinct items in training.")
    max_null_id_fraction: float = Field(
        0.0, ge=0, le=1, description="Allowed share of rows with a null/empty user or item id."
    )
    max_bad_timestamp_fraction: float = Field(
        0.0, ge=0, le=1, description="Allowed share of rows whose timestamp does not parse."
    )
    max_session_length: int = Field(
        10_000, ge=2, description="Sessions longer than this (before chunking) fail the run."
    )
    sample_rows: int = Field(
        100_000,
        ge=1_000,
        description="Row-level expectations run on a bounded random sample of this size; "
        "counts over all rows are checked as aggregates computed in DuckDB.",
    )
    allowed_event_types: list[str] | None = Field(
        None,
        description="Event types the source may send (e.g. [view, cart, purchase]); a new "
        "type usually means an upstream change. None accepts any.",
    )
    max_duplicate_fraction: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Allowed share of exact duplicate rows (same user, item, time, type); "
        "more means a double-delivered export.",
    )
    max_item_share: float = Field(
        0.2,
        gt=0,
        le=1,
        description="Largest share of events one item may have; above it one item (a "
        "default/landing page, a tracking bug) swamps the embedding.",
    )
    min_tokens: int = Field(
        100, ge=0, description="Minimum training tokens (events in training sessions)."
    )
    min_test_coverage: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Minimum share of held-out events whose item is in the training "
        "vocabulary; lower makes the evaluation meaningless (e.g. ids re-keyed mid-period).",
    )
    bot_max_user_events: int = Field(
        50_000, ge=1, description="A user with more events than this is counted as a bot."
    )
    bot_max_events_per_minute: int = Field(
        120,
        ge=1,
        description="A user with more events in one minute is counted as a bot "
        "(MovieLens-100K's busiest user peaks at 30).",
    )
    max_bot_event_share: float = Field(
        0.01, ge=0, le=1, description="Allowed share of events made by bot-like users."
    )
    max_p99_session_length: float = Field(
        1_000, ge=1, description="Bound on the 99th percentile of session length (warn)."
    )
    max_single_event_session_share: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Bound on the share of one-event sessions (warn): near 1 means the "
        "session gap or the timestamps are wrong.",
    )
    max_sessions_per_user: int = Field(
        10_000, ge=1, description="Bound on any one user's session count (warn)."
    )
    drift: DriftConfig = DriftConfig()
    severity: dict[str, Literal["warn", "fail"]] = Field(
        {},
        description="Per-rule severity overrides by rule id (e.g. {top_overlap: warn}); "
        "warnings annotate the run, failures stop it. Ids are listed in quality.md.",
    )
    example_rows: int = Field(
        5,
        ge=0,
        description="Offending input rows shown per failed or warned raw-events rule in "
        "quality.md (a bounded query, only on failure).",
    )
    data_docs: bool = Field(
        True, description="Build GX Data Docs into the run folder (data_docs/index.html)."
    )
