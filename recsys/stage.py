"""What every stage reports (rows in/out, seconds), logging, progress and Prefect artifacts.

Stage functions in `tasks/` are plain Python and run without Prefect; the thin task wrappers
call `report_artifact` and `Progress` publishes to the Prefect UI only inside a run.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from recsys.errors import PublishError, is_deterministic
from recsys.ops import signals


class StageReport(BaseModel):
    """Stage summary: goes to the log, a Prefect artifact and `manifest.json` -> `stages`."""

    name: str
    seconds: float = 0.0
    rows_in: int = 0
    rows_out: int = 0
    details: dict[str, Any] = Field(default_factory=dict)
    # Config keys this stage decided for the stages after it (evaluate's chosen weights,
    # `recsys.config.decided`); the flow applies them.
    decided: dict[str, Any] = Field(default_factory=dict)

    def markdown(self) -> str:
        lines = [
            f"### {self.name}",
            "",
            "| rows in | rows out | seconds |",
            "|---:|---:|---:|",
            f"| {self.rows_in:,} | {self.rows_out:,} | {self.seconds:.2f} |",
        ]
        if self.details:
            lines += ["", "| detail | value |", "|---|---|"]
            for key, value in _flat(self.details):
                shown = f"{value:,}" if isinstance(value, int) else value
                lines.append(f"| {key} | {shown} |")
        return "\n".join(lines)


def _flat(details: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Detail rows, with small named groups (e.g. extract's `incremental.recompute.mode`)
    spread into one row per field so the UI table stays readable; maps keyed by numbers
    (histograms) stay one row."""
    rows: list[tuple[str, object]] = []
    for key, value in details.items():
        name = f"{prefix}{key}"
        named = isinstance(value, dict) and value and all(isinstance(k, str) for k in value)
        if named and len(value) <= 20:
            rows += _flat(value, f"{name}.")
        else:
            rows.append((name, value))
    return rows


def logger() -> logging.Logger | logging.LoggerAdapter:
    """The Prefect run logger inside a run (so lines show in the UI), else `recsys`."""
    try:
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:
        return logging.getLogger("recsys")


class _ExpectedFailure(logging.Filter):
    """Drops the traceback from Prefect's record of a run that failed for a named, expected
    reason (bad input or config, data quality, the gate: exit 2, 3, 4; a time budget used
    up, a refresh superseded; a published run that fails its manifest check), and from every
    failure after a stop signal (a tune's trials then lose their files to the rollback):
    the one-line message says it all, and a traceback above it reads like a crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        named = exc is not None and (is_deterministic(exc) or isinstance(exc, PublishError))
        if named or (exc is not None and signals.stopped() is not None):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_expected_failures() -> None:
    """Install `_ExpectedFailure` on Prefect's run loggers (once per process)."""
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _ExpectedFailure) for f in log.filters):
            log.addFilter(_ExpectedFailure())


SERVE_URL = "RECSYS_SERVE_URL"  # where `recsys serve` answers, seen from a browser


def report_link(run_id: str, path: Path, published: bool = True) -> str:
    """The link of a run's report in an artifact: `$RECSYS_SERVE_URL/runs/<id>/report` (the
    report served read-only by `recsys serve`, which opens on another machine) for a run
    that is published when the variable is set, else the file itself."""
    base = os.environ.get(SERVE_URL, "").strip().rstrip("/")
    if base and published:
        return f"{base}/runs/{run_id}/report"
    return f"file://{path}"


def in_prefect_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return TaskRunContext.get() is not None or FlowRunContext.get() is not None


@contextmanager
def timed(report: StageReport):
    """Fill `report.seconds` with the wall time of the block, even when it raises."""
    start = time.perf_counter()
    try:
        yield report
    finally:
        report.seconds = round(time.perf_counter() - start, 3)


def report_artifact(report: StageReport, extra_markdown: str = "") -> None:
    """Markdown artifact 'recsys-<stage>' (a keyed history across runs in the UI)."""
    if not in_prefect_run():
        return
    from prefect.artifacts import create_markdown_artifact

    body = report.markdown() + ("\n\n" + extra_markdown if extra_markdown else "")
    create_markdown_artifact(
        markdown=body, key=f"recsys-{report.name}", description=f"{report.name} stage"
    )
    logger().info(
        "%s: %s rows in, %s rows out, %.2f s",
        report.name,
        f"{report.rows_in:,}",
        f"{report.rows_out:,}",
        report.seconds,
    )


class Progress:
    """Percent-done and ETA for long loops: log lines, plus a progress artifact in a run."""

    def __init__(self, label: str, total: int, *, every_seconds: float = 5.0) -> None:
        self.label, self.total, self.every = label, max(int(total), 1), every_seconds
        self.done = 0
        self.start = self.last = time.perf_counter()
        self.artifact_id: UUID | None = None
        if in_prefect_run():
            from prefect.artifacts import create_progress_artifact

            self.artifact_id = create_progress_artifact(
                progress=0.0, key=f"recsys-{label}-progress", description=f"{label} progress"
            )

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = done
        now = time.perf_counter()
        if not force and now - self.last < self.every and done < self.total:
            return
        self.last = now
        frac = min(done / self.total, 1.0)
        elapsed = now - self.start
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        logger().info(
            "%s: %d/%d (%.0f%%), %.1f s elapsed, ETA %.1f s",
            self.label,
            done,
            self.total,
            100 * frac,
            elapsed,
            eta,
        )
        if self.artifact_id is not None:
            from prefect.artifacts import update_progress_artifact

            update_progress_artifact(artifact_id=self.artifact_id, progress=100 * frac)


def retry_unless_deterministic(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry I/O hiccups, never bad data, config or gate verdicts,
    nor anything after a stop signal (DuckDB reports one as an interrupted query)."""
    if signals.stopped():
        return False
    try:
        state.result()
    except Exception as exc:
        return not is_deterministic(exc)
    return False
