"""Raw-events checkpoint: validated on one row of exact aggregates over every input row.

Schema (required columns present) is checked while reading, in extract; here: non-null and
finite ids, timestamp parse rate, no future or absurdly old timestamps, event types in the
allowed set, the duplicate rate and the most popular item's share.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from recsys.config import ExtractConfig, QualityConfig
from recsys.expectations.rules import at_least, at_most


def suite(cfg: QualityConfig, extract: ExtractConfig) -> list[gxe.Expectation]:
    """The raw-events expectations for `sql/quality/events_profile.sql`'s row (the sane-time
    bounds are extract's: the rows outside them are the ones extract drops as unusable)."""
    allowed = ", ".join(cfg.allowed_event_types) if cfg.allowed_event_types else "any"
    return [
        at_least("has_rows", "rows", 1, "the file has at least one data row"),
        at_most(
            "null_ids",
            "null_id_fraction",
            cfg.max_null_id_fraction,
            "share of rows with a null, empty or NaN user_id/item_id "
            f"<= {cfg.max_null_id_fraction}",
        ),
        at_most(
            "timestamp_parse",
            "bad_timestamp_fraction",
            cfg.max_bad_timestamp_fraction,
            "share of rows whose timestamp is missing or does not parse "
            f"<= {cfg.max_bad_timestamp_fraction}",
        ),
        at_most(
            "no_future",
            "future_timestamps",
            0,
            f"no timestamp later than now + {extract.future_tolerance_hours:g} h "
            "(milliseconds read as seconds land here)",
        ),
        at_most(
            "no_ancient",
            "ancient_timestamps",
            0,
            f"no timestamp before {extract.min_year}-01-01 (1970 means a zero or a unit error)",
        ),
        at_most(
            "event_types",
            "unknown_event_types",
            0,
            f"every event_type is in the allowed set ({allowed})",
        ),
        at_most(
            "duplicates",
            "duplicate_fraction",
            cfg.max_duplicate_fraction,
            f"share of exact duplicate rows <= {cfg.max_duplicate_fraction}",
        ),
        at_most(
            "top_item_share",
            "top_item_share",
            cfg.max_item_share,
            f"no single item makes up more than {cfg.max_item_share:.0%} of events",
        ),
    ]
