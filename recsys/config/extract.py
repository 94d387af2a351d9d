"""The `extract` section: reading, typing, cleaning, sessionization and the time split."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from recsys.config.section import ColumnName, MemorySize, Section


class ColumnMap(Section):
    """Names of the input columns; ids are cast to strings downstream."""

    user_id: ColumnName = "user_id"
    item_id: ColumnName = "item_id"
    timestamp: ColumnName = "timestamp"
    event_type: ColumnName | None = Field(
        "event_type", description="Optional column; used when present in the file."
    )
    session_id: ColumnName | None = Field(
        "session_id",
        description="Optional column; when present it replaces gap sessionization.",
    )

    def names(self) -> tuple[str, ...]:
        """The column names the input is read by (the optional ones when set)."""
        return tuple(name for name in self.model_dump().values() if name is not None)

    def ids(self) -> tuple[str, ...]:
        """The names of the id columns (user, item and, when set, session)."""
        return tuple(n for n in (self.user_id, self.item_id, self.session_id) if n is not None)

    @model_validator(mode="after")
    def _one_column_per_role(self) -> ColumnMap:
        # item_id=user_id would read one column twice and end in an empty corpus (exit 3).
        roles: dict[str, str] = {}
        for role, name in self.model_dump().items():
            if name is not None and name in roles:
                raise ValueError(f"{roles[name]} and {role} both name column {name!r}")
            roles.setdefault(name, role)
        return self


# A session is written to the corpus once per unit of weight: the bound keeps a run finite.
MAX_EVENT_WEIGHT = 100


class ExtractConfig(Section):
    """DuckDB extraction: typing, cleaning, sessionization and the time split."""

    columns: ColumnMap = ColumnMap()
    input_format: Literal["auto", "csv", "parquet", "json"] = Field(
        "auto", description="Reader to use; 'auto' picks by file extension."
    )
    csv_delimiter: str | None = Field(
        None,
        min_length=1,
        max_length=4,
        pattern=r"^[^\r\n\x00\"]+$",
        description="CSV delimiter (1-4 characters, DuckDB's limit); None lets DuckDB sniff "
        "it (tabs, commas, ...).",
    )
    timestamp_unit: Literal["auto", "s", "ms", "us", "ns"] = Field(
        "auto",
        description="Unit of numeric timestamps. 'auto' reads values above 1e11 as "
        "milliseconds, above 1e14 as microseconds and above 1e17 as nanoseconds (1e11 s "
        "is the year 5138).",
    )
    timestamp_format: str | None = Field(
        None,
        min_length=2,
        max_length=100,
        pattern=r"^[^\x00]*%[^\x00]*$",
        description="How timestamp text is written when it is not ISO-8601, in strptime's "
        "codes (DuckDB's): '%d-%m-%Y' for the Kaggle Groceries' dates, '%Y%m%dT%H%M%S' for "
        "ISO basic times, '%d/%m/%Y %H:%M'. Every value is read with it (numbers too: "
        "'20150721' with '%Y%m%d'); times are UTC. None: ISO text or Unix epochs.",
    )
    # The sane-time bounds: rows outside them are unusable ('invalid') in extract, and the
    # quality stage counts them (rules no_future, no_ancient).
    min_year: int = Field(
        1995,
        ge=1,
        le=9999,
        description="Timestamps before this year are treated as broken (e.g. 1970).",
    )
    future_tolerance_hours: float = Field(
        24.0,
        ge=0,
        le=8_760_000,
        description="Timestamps later than now + this are 'in the future' (at most ~1,000 "
        "years: a log rebuilt with made-up dates, one day per basket, can run centuries "
        "ahead).",
    )
    session_gap_minutes: float = Field(
        30.0,
        gt=0,
        description="Inactivity gap that starts a new session (30 min is the web-analytics "
        "convention, also used by GRU4Rec's preprocessing).",
    )
    min_session_length: int = Field(
        2, ge=2, description="Sessions shorter than this carry no co-occurrence: dropped."
    )
    max_session_length: int = Field(
        200,
        ge=2,
        le=10_000,
        description="Longer sessions are cut into consecutive chunks of this length, so "
        "one marathon session cannot dominate the corpus.",
    )
    collapse_repeats: bool = Field(
        True,
        description="Collapse consecutive repeats of the same item (reloads, double "
        "clicks); they teach the model that an item predicts itself.",
    )
    event_types: list[str] | None = Field(
        None, description="Keep only these event types (None keeps all)."
    )
    test_fraction: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="Share of events (by global time) held out for evaluation; a session "
        "crossing the cut is split at it so no later event leaks into training.",
    )
    memory_limit: MemorySize = Field(
        "2GB", description="DuckDB memory_limit for the stage (a size: 2GB, 512MiB)."
    )
    threads: int | None = Field(
        None, ge=1, le=1024, description="DuckDB threads (None: all cores)."
    )
    # Cleaning rules (docs/extract.md); each one's dropped rows are counted in extract.json.
    duplicate_window_seconds: float = Field(
        0.0,
        ge=0,
        description="An event repeating the previous event of the same user, item and type "
        "within this many seconds is a near duplicate (double submits, tracker retries) and "
        "dropped. 0 drops exact duplicates only.",
    )
    max_user_events: int | None = Field(
        None,
        ge=1,
        description="Users with more events than this are treated as bots/crawlers and all "
        "their events dropped (None: no limit).",
    )
    max_events_per_minute: int | None = Field(
        None,
        ge=1,
        description="Users who ever log more events than this in one calendar minute are "
        "treated as bots and dropped; humans rarely exceed ~30 (None: no limit).",
    )
    min_item_count: int = Field(
        1,
        ge=1,
        description="Items with fewer cleaned events (whole log, after the bot filter) are "
        "dropped before sessionization; too rare to learn a vector for.",
    )
    min_user_events: int = Field(
        1,
        ge=1,
        description="Users with fewer cleaned events (after the rare-item rule) are dropped "
        "before sessionization.",
    )
    validation_fraction: float = Field(
        0.0,
        ge=0,
        lt=0.5,
        description="Share of events (by global time, just before the test cut) labelled "
        "'validation' for tuning; excluded from the training corpus. 0: no validation split.",
    )
    test_start: datetime | None = Field(
        None,
        description="Cut by date instead of fraction: events at or after this UTC time are "
        "'test' (overrides test_fraction).",
    )
    validation_start: datetime | None = Field(
        None,
        description="With test_start: events from this UTC time up to test_start are "
        "'validation' (overrides validation_fraction).",
    )
    event_type_weights: dict[str, int] = Field(
        {},
        description="Session weights by event type, e.g. {purchase: 3}: a training session "
        "is written to the corpus as many times as the largest weight of its events "
        "(default 1), so converting sessions count more. Integers 1..100: the corpus grows "
        "with the weight (a weight of 10^9 would write every such session 10^9 times).",
    )
    incremental: bool = Field(
        False,
        description="Keep the typed events in DATA_DIR/warehouse.duckdb and read only input "
        "files that are new or changed since the last run (a scheduled run over a folder of "
        "daily partitions); the stage is then rebuilt from the warehouse (docs/extract.md).",
    )

    @field_validator("timestamp_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "%z" in value or "%Z" in value:
            # try_strptime then types the column TIMESTAMPTZ; zoned times are ISO text.
            raise ValueError("times are read as UTC: write zoned times as ISO-8601 text")
        import duckdb  # only when a format is set; checked now, not mid-run

        try:
            # Its own connection: a result left on DuckDB's default one blocks its next user.
            with duckdb.connect() as con:
                con.execute("select try_strptime('', ?)", [value]).fetchall()
        except duckdb.Error as exc:
            message = str(exc).split("\n")[0].removeprefix("Invalid Input Error: ")
            raise ValueError(message) from None
        return value

    @field_validator("test_start", "validation_start")
    @classmethod
    def _as_naive_utc(cls, value: datetime | None) -> datetime | None:
        # Stage tables hold naive UTC timestamps; a zoned cut is converted, a naive one is UTC.
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    @model_validator(mode="after")
    def _split_dates(self) -> ExtractConfig:
        if self.validation_start is not None and self.test_start is None:
            raise ValueError("validation_start needs test_start")
        if self.validation_start is not None and self.validation_start >= self.test_start:
            raise ValueError("validation_start must be before test_start")
        if self.test_fraction + self.validation_fraction >= 0.9:
            raise ValueError("test_fraction + validation_fraction leaves too little to train")
        if any(not 1 <= w <= MAX_EVENT_WEIGHT for w in self.event_type_weights.values()):
            raise ValueError(f"event_type_weights must be integers 1..{MAX_EVENT_WEIGHT}")
        return self

    def time_bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """Oldest and newest timestamps treated as real (naive UTC, as DuckDB returns them)."""
        low = datetime(self.min_year, 1, 1)
        high = (now + timedelta(hours=self.future_tolerance_hours)).replace(tzinfo=None)
        return low, high
