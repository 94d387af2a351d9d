"""Named failures, each with the exit code the contract gives it."""

from __future__ import annotations


class RecsysError(Exception):
    """Base of the failures the pipeline names; `exit_code` is what `recsys` exits with."""

    exit_code = 1


class UsageError(RecsysError):
    """Bad command line, configuration or input path (exit 2)."""

    exit_code = 2


class DataQualityError(RecsysError):
    """The input data failed a data-quality rule (exit 3; nothing published)."""

    exit_code = 3


class GateRefused(RecsysError):
    """The evaluation gate refused the model (exit 4; the champion stays)."""

    exit_code = 4


class PublishError(RecsysError):
    """A published run is missing, incomplete or fails its manifest check (exit 1)."""

    exit_code = 1


class StageTimeout(RecsysError):
    """A stage ran past its configured time budget and was killed (exit 1)."""

    exit_code = 1


class Superseded(RecsysError):
    """`current` moved while a refresh ran: publishing it would bring an older model back
    (exit 1; the newer champion stays)."""

    exit_code = 1


class SourceUnreachable(RecsysError):
    """A URL input could not be fetched: no connection, or DuckDB's httpfs extension missing
    and not downloadable (exit 1; not the data's fault, so retried)."""

    exit_code = 1


class WarehouseBusy(RecsysError):
    """Another process held DATA_DIR/warehouse.duckdb for longer than the wait (exit 1; the
    task's retries try again later)."""

    exit_code = 1


def is_deterministic(exc: BaseException) -> bool:
    """Failures that a retry cannot fix: data, configuration and gate verdicts, and a stage
    that already used its whole time budget (a retry would only double the wait)."""
    return isinstance(exc, UsageError | DataQualityError | GateRefused | StageTimeout | Superseded)
