"""Raw-events checkpoint: validated on one row of exact aggregates over every input row.

Each expectation carries `meta.rule`, the sentence shown to the person on call.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from recsys.config import QualityConfig

NAME = "raw_events"


def suite(cfg: QualityConfig) -> list[gxe.Expectation]:
    def at_most(column: str, value: float, rule: str) -> gxe.Expectation:
        return gxe.ExpectColumnMaxToBeBetween(column=column, max_value=value, meta={"rule": rule})

    return [
        gxe.ExpectColumnMinToBeBetween(
            column="rows", min_value=1, meta={"rule": "the file has at least one data row"}
        ),
        at_most(
            "null_id_fraction",
            cfg.max_null_id_fraction,
            f"share of rows with a null or empty user_id/item_id <= {cfg.max_null_id_fraction}",
        ),
        at_most(
            "bad_timestamp_fraction",
            cfg.max_bad_timestamp_fraction,
            "share of rows whose timestamp is missing or does not parse "
            f"<= {cfg.max_bad_timestamp_fraction}",
        ),
        at_most(
            "future_timestamps",
            0,
            f"no timestamp later than now + {cfg.future_tolerance_hours:g} h",
        ),
        at_most("ancient_timestamps", 0, f"no timestamp before {cfg.min_year}-01-01"),
    ]
