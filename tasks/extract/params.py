"""The values bound into the extract SQL files: one place, used by the stage, the warehouse
ingest, backfill and tuning's validation stage."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from recsys.config import ExtractConfig


def sql_params(cfg: ExtractConfig, now: datetime, corpus: Path) -> dict[str, object]:
    """Every `$param` the extract SQL binds, for a run at `now` writing `corpus`."""
    low, high = cfg.time_bounds(now)
    return {
        "timestamp_unit": cfg.timestamp_unit,
        "timestamp_format": cfg.timestamp_format,
        "min_ts": low,
        "max_ts": high,
        "event_types": cfg.event_types,
        "gap_seconds": cfg.session_gap_minutes * 60.0,
        "collapse_repeats": cfg.collapse_repeats,
        "test_fraction": cfg.test_fraction,
        "validation_fraction": cfg.validation_fraction,
        "test_start": cfg.test_start,
        "validation_start": cfg.validation_start,
        "weight_types": list(cfg.event_type_weights) or None,
        "weight_values": list(cfg.event_type_weights.values()) or None,
        "dedup_seconds": cfg.duplicate_window_seconds,
        "max_user_events": cfg.max_user_events,
        "max_events_per_minute": cfg.max_events_per_minute,
        "min_item_count": cfg.min_item_count,
        "min_user_events": cfg.min_user_events,
        "max_session_length": cfg.max_session_length,
        "min_session_length": cfg.min_session_length,
        "path": str(corpus),
        "splits": ["train"],  # the corpus: the training split's sessions
    }


# The training corpus is written in the training vocabulary's tokens (extract/corpus also
# writes the refit's corpus, over every split, in its own vocabulary).
CORPUS_IDENTS = {"vocabulary": "items", "events": "events"}
