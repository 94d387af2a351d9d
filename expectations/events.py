"""Raw-events checkpoint: validated on one row of exact aggregates over every input row.

Schema (required columns present) is checked while reading, in extract; here: non-null ids
no longer than the server answers, timestamp parse rate, no future or absurdly old
timestamps, event types in the allowed set, the duplicate rate and the most popular item's
share.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from recsys.config import ExtractConfig, QualityConfig
from recsys.expectations.rules import at_least, at_most
from recsys.inputs import MAX_ID_CHARS

# What warn does to the rows these rules count: extract drops them and the run goes on.
DROP = "with quality.severity.{}=warn those rows are dropped and the run goes on"


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
            fix="raise quality.max_null_id_fraction (those rows are dropped)",
        ),
        at_most(
            "timestamp_parse",
            "bad_timestamp_fraction",
            cfg.max_bad_timestamp_fraction,
            "share of rows whose timestamp is missing or does not parse "
            f"<= {cfg.max_bad_timestamp_fraction}",
            fix="text that is not ISO-8601 is read with extract.timestamp_format (e.g. "
            "%d-%m-%Y), numbers with extract.timestamp_unit; or raise "
            "quality.max_bad_timestamp_fraction (those rows are dropped)",
        ),
        at_most(
            "no_future",
            "future_timestamps",
            0,
            f"no timestamp later than now + {extract.future_tolerance_hours:g} h "
            "(milliseconds read as seconds land here)",
            fix="raise extract.future_tolerance_hours to keep them; " + DROP.format("no_future"),
        ),
        at_most(
            "no_ancient",
            "ancient_timestamps",
            0,
            f"no timestamp before {extract.min_year}-01-01 (1970 means a zero or a unit error)",
            fix="lower extract.min_year to keep them; " + DROP.format("no_ancient"),
        ),
        at_most(
            "event_types",
            "unknown_event_types",
            0,
            f"every event_type is in the allowed set ({allowed})",
            fix="add them to quality.allowed_event_types; " + DROP.format("event_types"),
        ),
        at_most(
            "long_ids",
            "long_ids",
            0,
            f"no user_id or item_id longer than {MAX_ID_CHARS:,} characters (what the "
            "server answers)",
            fix="shorten or hash those ids before the run",
        ),
        at_most(
            "duplicates",
            "duplicate_fraction",
            cfg.max_duplicate_fraction,
            f"share of exact duplicate rows <= {cfg.max_duplicate_fraction}",
            fix="raise quality.max_duplicate_fraction (a log with dates but no times of day "
            "repeats rows; duplicates are dropped either way)",
        ),
        at_most(
            "top_item_share",
            "top_item_share",
            cfg.max_item_share,
            f"no single item makes up more than {cfg.max_item_share:.0%} of events",
            fix="raise quality.max_item_share",
        ),
    ]
