"""The base of every config section, and the keys that moved or went between versions."""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class Section(BaseModel):
    """A config section: unknown keys are refused, assignments are validated."""

    # Unknown keys are almost always typos ("epoch" for "epochs"): refuse them. NaN and
    # infinity are refused in every float: gensim crashes on them (alpha=inf segfaults) and
    # no bound or rule can be checked against a NaN.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # Pydantic reads true as 1: `epochs: true` (a YAML slip for a commented-out value)
        # would train one epoch without a word.
        annotation = cls.model_fields[info.field_name].annotation
        if isinstance(value, bool) and _numeric(annotation):
            raise ValueError("must be a number, not true/false")
        listed = isinstance(value, list) and get_origin(annotation) in (list, tuple)
        if listed and any(isinstance(v, bool) for v in value) and _numeric(get_args(annotation)[0]):
            raise ValueError("must hold numbers, not true/false")
        return value


def _numeric(annotation: Any) -> bool:
    """Whether a field takes an int or a float (alone or with None), never a boolean."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return bool(args) and all(_numeric(a) for a in args)
    return annotation in (int, float)


# Seeds go to numpy's and gensim's generators, which take 0 <= seed < 2**32.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]

# A DuckDB size literal (SET memory_limit takes no bound parameter, so the text is checked
# before it is ever put into a statement: recsys.sqlrun reuses this check).
_SIZE = re.compile(r"\d+(\.\d+)?\s*[KMGT]i?B", flags=re.IGNORECASE)


def checked_size(value: str) -> str:
    """`value` stripped if it is a size like 2GB or 512MiB; ValueError otherwise."""
    if not _SIZE.fullmatch(value.strip()):
        raise ValueError(f"must be a size such as '2GB' or '512MiB', got {value!r}")
    return value.strip()


MemorySize = Annotated[str, AfterValidator(checked_size)]


def _plain_name(value: str) -> str:
    if not value or "\x00" in value or value != value.strip("\r\n"):
        raise ValueError("must be a non-empty column name without NUL or line breaks")
    return value


# A column name of an input file (quoted as an identifier wherever it is used).
ColumnName = Annotated[str, AfterValidator(_plain_name)]


# Keys that moved to another section. A config naming the old place is refused with a
# pointer (exit 2); a published run's config still naming it is carried over
# (`recsys.config.migrate_config`), so a champion of an older version stays usable.
MOVED = {
    "tune.task_runner": "ops.task_runner",
    "tune.dask_address": "ops.dask_address",
    "quality.min_year": "extract.min_year",
    "quality.future_tolerance_hours": "extract.future_tolerance_hours",
    # 'auto' no longer chooses HNSW; the size bound now ends IVF-Flat's range.
    "export.hnsw_max_items": "export.ivfflat_max_items",
}
# Keys that are gone: refused as unknown in a config, dropped from a published run's.
# The value says what replaced the key; it is shown when a config still uses it.
REMOVED = {
    "gate.min_lift_over_popularity": "the gate compares with gate.baselines, see gate.min_lift",
    # fused by normalised score now instead of reciprocal rank
    "export.cooccurrence_weight": "see export.item_weights.count and export.count_channel",
}


def refuse_moved(section: str, data: Any) -> Any:
    """The body of a section's `mode="before"` validator: name the new place of a moved key."""
    for old, new in MOVED.items():
        where, _, key = old.partition(".")
        if where == section and isinstance(data, dict) and key in data:
            raise ValueError(f"{old} moved to {new}")
    return data
