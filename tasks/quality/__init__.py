"""Quality: Great Expectations 1.x checkpoints on raw events, sessions, the training corpus
and drift against the previous successful run.

GX over DuckDB through SQLAlchemy is broken in GX 1.x, and GX on pandas costs seconds per
million rows, so each checkpoint validates one row of exact aggregates computed in DuckDB
(`sql/quality/*.sql`): the cost does not grow with the input. Every rule has a severity
(`warn` annotates the run, `fail` stops it, see `quality.severity`). The stage writes
`quality.md` (every expectation, observed value, verdict), `quality_profile.json` (what the
next run's drift checks compare to) and GX Data Docs into the run folder, then raises
DataQualityError (exit 3) naming the first failed rule. GX itself runs in a process of its
own, started with the run (recsys/expectations/process.py). The task retries I/O errors (a
stage file briefly unreadable) but never a quality verdict: those are deterministic.

    report.py          verdicts, quality.md, offending rows, artifacts
    drift_metrics.py   this run's profile against the published run's (changes, PSI)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import PipelineConfig
from recsys.errors import DataQualityError
from recsys.expectations import CORPUS, DRIFT, RAW_EVENTS, SESSIONS
from recsys.expectations import process as gx_process
from recsys.inputs import MAX_ID_CHARS
from recsys.layout import DATA_DOCS, QUALITY_PROFILE, QUALITY_REPORT, REPORTS, RunPaths
from recsys.stage import StageReport, logger, retry_unless_deterministic, timed
from recsys.tasks.quality import drift_metrics
from recsys.tasks.quality.report import artifacts, examples, markdown, shown, verdict


def _apply_severity(results: list[dict], overrides: dict[str, str]) -> None:
    for r in results:
        r["severity"] = overrides.get(
            f"{r['checkpoint']}.{r['id']}", overrides.get(r["id"], r["severity"])
        )


def _profiles(paths: RunPaths, cfg: PipelineConfig, now: datetime) -> dict[str, dict]:
    low, high = cfg.extract.time_bounds(now)
    q = cfg.quality
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        out = {
            "raw": sqlrun.fetch_one(
                con,
                "quality/events_profile",
                params={
                    "min_ts": low,
                    "max_ts": high,
                    "allowed_event_types": q.allowed_event_types,
                    "max_id_chars": MAX_ID_CHARS,
                },
            ),
            "sessions": sqlrun.fetch_one(
                con,
                "quality/sessions_profile",
                params={
                    "bot_max_user_events": q.bot_max_user_events,
                    "bot_max_events_per_minute": q.bot_max_events_per_minute,
                },
            ),
            "corpus": sqlrun.fetch_one(con, "quality/corpus_profile"),
            "drift": sqlrun.fetch_one(con, "quality/drift_profile"),
        }
        top = sqlrun.run(con, "quality/top_items", {"top_k": q.drift.top_k}).fetchall()
        out["drift"]["top_items"] = {item: int(n) for item, n in top}
        previous = drift_metrics.previous_profile(paths.data_dir)
        if previous is not None:
            wanted = list(previous[1]["top_items"])
            counts = sqlrun.run(con, "quality/item_counts", {"item_ids": wanted}).fetchall()
            out["drift"]["previous_top_counts"] = {item: int(n) for item, n in counts}
    out["previous"] = previous
    return out


def quality(paths: RunPaths, cfg: PipelineConfig, now: datetime | None = None) -> StageReport:
    """Run every checkpoint; DataQualityError names the first failed rule and the counts."""
    now = now or datetime.now(UTC)
    report = StageReport(name="quality")
    with timed(report):
        p = _profiles(paths, cfg, now)
        frames = {RAW_EVENTS: p["raw"], SESSIONS: p["sessions"], CORPUS: p["corpus"]}
        notes = []
        if p["previous"] is None:
            notes.append("drift: skipped, no previous successful run with a quality profile")
        else:
            prev_id, prev = p["previous"]
            notes.append(f"drift: compared with published run {prev_id}")
            frames[DRIFT] = drift_metrics.compare(prev, p["drift"], cfg.quality.drift.top_k)
        docs_dir = paths.out / DATA_DOCS if cfg.quality.data_docs else None
        results, docs = gx_process.validate(cfg, frames, docs_dir)
        _apply_severity(results, cfg.quality.severity)
        counts = {v: sum(verdict(r) == v for r in results) for v in ("pass", "warn", "fail")}
        profile = {k: v for k, v in p["drift"].items() if k != "previous_top_counts"}
        profile = {"run_id": paths.run_id, "created_at": now.isoformat(), **profile}
        (paths.out / QUALITY_PROFILE).write_text(json.dumps(profile, indent=2, default=str))
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
    (paths.out / QUALITY_REPORT).write_text(text)
    if docs is not None and not [r for r in results if verdict(r) == "fail"]:
        # A passing run's folder is renamed to runs/<id> when published: link there.
        docs = paths.final_dir / docs.relative_to(paths.out)
    artifacts(report, results, notes, docs)
    for r in results:
        if verdict(r) == "warn":
            logger().warning(
                "quality warning: %s.%s: %s (observed %s)",
                r["checkpoint"],
                r["id"],
                r["rule"],
                observed_and_fix(r),
            )
    failed = [r for r in results if verdict(r) == "fail"]
    if failed:
        first = failed[0]
        # The other failed rules by name (the first few): the user fixes them all at once.
        others = [f"{r['checkpoint']}.{r['id']}" for r in failed[1:]]
        also = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        # The report's path once the failed run is discarded (tasks/rundir.py keeps a
        # failed run's reports in work/<id>/reports): what the user can open afterwards.
        raise DataQualityError(
            f"data quality failed: {first['checkpoint']}.{first['id']}: {first['rule']} "
            f"(observed {observed_and_fix(first)}); {counts['fail']} failed, "
            f"{counts['warn']} warned, {counts['pass']} passed of {len(results)} "
            f"expectations{f' (also failed: {also})' if also else ''}, "
            f"see {paths.work_dir / REPORTS / QUALITY_REPORT}"
        )
    return report


def observed_and_fix(result: dict) -> str:
    """The observed value, and what to change when the data is right and the rule is not."""
    fix = result.get("fix")
    return shown(result["observed"]) + (f"; {fix}" if fix else "")


@task(
    name="quality",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_unless_deterministic,
    cache_policy=NONE,
)
def quality_task(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    return quality(paths, cfg)
