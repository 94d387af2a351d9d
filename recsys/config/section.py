"""The base of every config section, and the keys that moved or went between versions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section: unknown keys are refused, assignments are validated."""

    # Unknown keys are almost always typos ("epoch" for "epochs"): refuse them.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# Keys that moved to another section. A config naming the old place is refused with a
# pointer (exit 2); a published run's config still naming it is carried over
# (`recsys.config.migrate_config`), so a champion of an older version stays usable.
MOVED = {
    "tune.task_runner": "ops.task_runner",
    "tune.dask_address": "ops.dask_address",
    "quality.min_year": "extract.min_year",
    "quality.future_tolerance_hours": "extract.future_tolerance_hours",
}
# Keys that are gone: refused as unknown in a config, dropped from a published run's.
REMOVED = (
    "gate.min_lift_over_popularity",
    # Replaced by the count channel's weight (export.item_weights.count), which fuses by
    # normalised score instead of reciprocal rank.
    "export.cooccurrence_weight",
)


def refuse_moved(section: str, data: Any) -> Any:
    """The body of a section's `mode="before"` validator: name the new place of a moved key."""
    for old, new in MOVED.items():
        where, _, key = old.partition(".")
        if where == section and isinstance(data, dict) and key in data:
            raise ValueError(f"{old} moved to {new}")
    return data
