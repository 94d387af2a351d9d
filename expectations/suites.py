"""Every checkpoint's suite, and the check that `quality.severity` names real rules."""

from __future__ import annotations

from recsys.config import PipelineConfig
from recsys.errors import UsageError
from recsys.expectations import CORPUS, DRIFT, RAW_EVENTS, SESSIONS, corpus, drift, events, sessions


def suites(cfg: PipelineConfig) -> dict[str, list]:
    """Every checkpoint's expectations by checkpoint name (drift runs only with a baseline)."""
    return {
        RAW_EVENTS: events.suite(cfg.quality, cfg.extract),
        SESSIONS: sessions.suite(cfg.quality, cfg.extract),
        CORPUS: corpus.suite(cfg.quality),
        DRIFT: drift.suite(cfg.quality),
    }


def check_severity(cfg: PipelineConfig) -> None:
    """UsageError for a `quality.severity` key that names no rule (a typo would otherwise
    silently keep the default)."""
    ids = {(name, e.meta["id"]) for name, exps in suites(cfg).items() for e in exps}
    known = {i for _, i in ids} | {f"{name}.{i}" for name, i in ids}
    unknown = sorted(set(cfg.quality.severity) - known)
    if unknown:
        raise UsageError(
            f"quality.severity: unknown rule id(s) {', '.join(unknown)}; known: "
            + ", ".join(sorted({i for _, i in ids}))
        )
