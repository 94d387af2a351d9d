"""Quality: Great Expectations 1.x checkpoints on raw events, sessions, the training corpus
and drift against the previous successful run.

GX over DuckDB through SQLAlchemy is broken in GX 1.x, and GX on pandas costs seconds per
million rows, so each checkpoint validates one row of exact aggregates computed in DuckDB
(`sql/quality_*.sql`): the cost does not grow with the input. Every rule has a severity
(`warn` annotates the run, `fail` stops it, see `quality.severity`). The stage writes
`quality.md` (every expectation, observed value, verdict), `quality_profile.json` (what the
next run's drift checks compare to) and GX Data Docs into the run folder, then raises
DataQualityError (exit 3) naming the first failed rule. The task retries I/O errors (a
stage file briefly unreadable) but never a quality verdict: those are deterministic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from prefect import task
from prefect.cache_policies import NONE

from recsys import drift, sqlrun
from recsys.config import ExtractConfig, QualityConfig
from recsys.errors import DataQualityError, UsageError
from recsys.expectations import corpus as corpus_suite
from recsys.expectations import drift as drift_suite
from recsys.expectations import events as events_suite
from recsys.expectations import sessions as sessions_suite
from recsys.expectations.checkpoint import Checkpoints
from recsys.layout import RunPaths
from recsys.stage import (
    StageReport,
    in_prefect_run,
    logger,
    report_artifact,
    retry_unless_deterministic,
    timed,
)
from recsys.tasks.extract import time_bounds

REPORT = "quality.md"
DOCS = "data_docs"


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(result: dict) -> str:
    """'pass', 'warn' or 'fail' for one expectation result."""
    if result["passed"]:
        return "pass"
    return "warn" if result["severity"] == "warn" else "fail"


def markdown(results: list[dict], notes: list[str] = ()) -> str:
    """One table per checkpoint: rule id, rule, observed value, severity, verdict."""
    lines = [f"> {n}" for n in notes] + ([""] if notes else [])
    for name in dict.fromkeys(r["checkpoint"] for r in results):
        lines += [f"#### {name}", "", "| id | rule | observed | severity | verdict |"]
        lines.append("|---|---|---:|---|---|")
        for r in (r for r in results if r["checkpoint"] == name):
            shown = {"pass": "pass", "warn": "**WARN**", "fail": "**FAIL**"}[verdict(r)]
            lines.append(
                f"| {r['id']} | {r['rule']} | {_shown(r['observed'])} | {r['severity']} | {shown} |"
            )
        lines.append("")
    return "\n".join(lines)


def suites(cfg: QualityConfig, extract: ExtractConfig) -> dict[str, list]:
    """Every checkpoint's expectations by checkpoint name (drift runs only with a baseline)."""
    return {
        events_suite.NAME: events_suite.suite(cfg),
        sessions_suite.NAME: sessions_suite.suite(cfg, extract),
        corpus_suite.NAME: corpus_suite.suite(cfg),
        drift_suite.NAME: drift_suite.suite(cfg),
    }


def check_severity(cfg: QualityConfig, extract: ExtractConfig) -> None:
    """UsageError for a `quality.severity` key that names no rule (a typo would otherwise
    silently keep the default)."""
    ids = {(name, e.meta["id"]) for name, exps in suites(cfg, extract).items() for e in exps}
    known = {i for _, i in ids} | {f"{name}.{i}" for name, i in ids}
    unknown = sorted(set(cfg.severity) - known)
    if unknown:
        raise UsageError(
            f"quality.severity: unknown rule id(s) {', '.join(unknown)}; known: "
            + ", ".join(sorted({i for _, i in ids}))
        )


def _apply_severity(results: list[dict], overrides: dict[str, str]) -> None:
    for r in results:
        r["severity"] = overrides.get(
            f"{r['checkpoint']}.{r['id']}", overrides.get(r["id"], r["severity"])
        )


def _profiles(paths: RunPaths, cfg: QualityConfig, now: datetime) -> dict[str, dict]:
    low, high = time_bounds(cfg, now)
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        out = {
            "raw": sqlrun.fetch_one(
                con,
                "quality_events_profile",
                params={
                    "min_ts": low,
                    "max_ts": high,
                    "allowed_event_types": cfg.allowed_event_types,
                },
            ),
            "sessions": sqlrun.fetch_one(
                con,
                "quality_sessions_profile",
                params={
                    "bot_max_user_events": cfg.bot_max_user_events,
                    "bot_max_events_per_minute": cfg.bot_max_events_per_minute,
                },
            ),
            "corpus": sqlrun.fetch_one(con, "quality_corpus_profile"),
            "drift": sqlrun.fetch_one(con, "quality_drift_profile"),
        }
        top = sqlrun.run(con, "quality_top_items", {"top_k": cfg.drift.top_k}).fetchall()
        out["drift"]["top_items"] = {item: int(n) for item, n in top}
        previous = drift.previous_profile(paths.data_dir)
        if previous is not None:
            wanted = list(previous[1]["top_items"])
            counts = sqlrun.run(con, "quality_item_counts", {"item_ids": wanted}).fetchall()
            out["drift"]["previous_top_counts"] = {item: int(n) for item, n in counts}
    out["previous"] = previous
    return out


EXAMPLE_RULES = {"null_ids", "finite_ids", "timestamp_parse", "no_future", "no_ancient"}
EXAMPLE_RULES |= {"event_types", "duplicates"}


def examples(paths: RunPaths, cfg: QualityConfig, results: list[dict], now: datetime) -> str:
    """Markdown of the first offending input rows of each raw-events rule that did not
    pass: a bounded query per rule, so the on-call sees the bad rows, not only counts."""
    rules = [
        r["id"]
        for r in results
        if r["checkpoint"] == events_suite.NAME and not r["passed"] and r["id"] in EXAMPLE_RULES
    ]
    if not rules or cfg.example_rows == 0:
        return ""
    low, high = time_bounds(cfg, now)
    params = {"min_ts": low, "max_ts": high, "allowed_event_types": cfg.allowed_event_types}
    lines = ["#### Examples (first offending input rows)", ""]
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        for rule in rules:
            cur = sqlrun.run(
                con, "quality_examples", {**params, "rule": rule, "limit": cfg.example_rows}
            )
            lines += [f"{rule}:", "", "| input row | user_id | item_id | timestamp | event_type |"]
            lines.append("|---:|---|---|---|---|")
            for row in cur.fetchall():
                cells = ["" if v is None else str(v).replace("|", "\\|") for v in row]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def quality(
    paths: RunPaths, cfg: QualityConfig, extract: ExtractConfig, now: datetime | None = None
) -> StageReport:
    """Run every checkpoint; DataQualityError names the first failed rule and the counts."""
    now = now or datetime.now(UTC)
    report = StageReport(name="quality")
    with timed(report):
        check_severity(cfg, extract)
        p = _profiles(paths, cfg, now)
        checks = Checkpoints(paths.out / DOCS if cfg.data_docs else None)
        expectations = suites(cfg, extract)
        results = []
        for name, frame in (("raw_events", "raw"), ("sessions", "sessions"), ("corpus", "corpus")):
            results += checks.run(name, expectations[name], p[frame])
        notes = []
        if p["previous"] is None:
            notes.append("drift: skipped, no previous successful run with a quality profile")
        else:
            prev_id, prev = p["previous"]
            notes.append(f"drift: compared with published run {prev_id}")
            row = drift.compare(prev, p["drift"], cfg.drift.top_k)
            results += checks.run(drift_suite.NAME, expectations[drift_suite.NAME], row)
        _apply_severity(results, cfg.severity)
        counts = {v: sum(verdict(r) == v for r in results) for v in ("pass", "warn", "fail")}
        profile = {k: v for k, v in p["drift"].items() if k != "previous_top_counts"}
        profile = {"run_id": paths.run_id, "created_at": now.isoformat(), **profile}
        (paths.out / drift.PROFILE).write_text(json.dumps(profile, indent=2, default=str))
        report.rows_in = int(p["raw"]["rows"])
        report.rows_out = int(p["sessions"]["events"])
        report.details = {
            "expectations": len(results),
            **{f"{v}ed" if v != "warn" else "warnings": n for v, n in counts.items()},
            "warned_rules": ", ".join(r["id"] for r in results if verdict(r) == "warn") or "none",
            "drift": notes[-1],
            **{k: v for k, v in p["raw"].items() if k != "rows"},
            **p["sessions"],
            **p["corpus"],
        }
    text = f"# Data quality, run {paths.run_id}\n\n{markdown(results, notes)}\n"
    text += examples(paths, cfg, results, now)
    (paths.out / REPORT).write_text(text)
    docs = checks.build_docs()
    if docs is not None and not [r for r in results if verdict(r) == "fail"]:
        # A passing run's folder is renamed to runs/<id> when published: link there.
        docs = paths.final_dir / docs.relative_to(paths.out)
    _artifacts(report, results, notes, docs)
    for r in results:
        if verdict(r) == "warn":
            logger().warning(
                "quality warning: %s.%s: %s (observed %s)",
                r["checkpoint"],
                r["id"],
                r["rule"],
                _shown(r["observed"]),
            )
    failed = [r for r in results if verdict(r) == "fail"]
    if failed:
        first = failed[0]
        raise DataQualityError(
            f"data quality failed: {first['checkpoint']}.{first['id']}: {first['rule']} "
            f"(observed {_shown(first['observed'])}); {counts['fail']} failed, "
            f"{counts['warn']} warned, {counts['pass']} passed of {len(results)} "
            f"expectations, see {paths.out / REPORT}"
        )
    return report


def _artifacts(report: StageReport, results: list[dict], notes: list[str], docs) -> None:
    """One markdown artifact per checkpoint plus a link to the Data Docs (inside a run)."""
    report_artifact(report)
    if not in_prefect_run():
        return
    from prefect.artifacts import create_link_artifact, create_markdown_artifact

    for name in dict.fromkeys(r["checkpoint"] for r in results):
        mine = [r for r in results if r["checkpoint"] == name]
        create_markdown_artifact(
            markdown=markdown(mine, [n for n in notes if n.startswith(name)]),
            key=f"recsys-quality-{name.replace('_', '-')}",
            description=f"GX checkpoint {name}",
        )
    if docs is not None:
        create_link_artifact(
            link=docs.as_uri(),
            link_text="Great Expectations Data Docs",
            key="recsys-quality-data-docs",
            description="GX Data Docs of this run's checkpoints (in work/<id>/run while the "
            "run is not published)",
        )


@task(
    name="quality",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def quality_task(paths: RunPaths, cfg: QualityConfig, extract: ExtractConfig) -> StageReport:
    return quality(paths, cfg, extract)
