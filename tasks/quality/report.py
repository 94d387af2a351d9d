"""What the quality stage shows a person: verdicts, the `quality.md` tables, the first
offending input rows of a failed rule, and the Prefect artifacts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from recsys import sqlrun
from recsys.config import PipelineConfig
from recsys.expectations import RAW_EVENTS
from recsys.inputs import MAX_ID_CHARS
from recsys.layout import RunPaths
from recsys.stage import StageReport, in_prefect_run, report_artifact

# Raw-events rules whose offending rows `examples` can show.
EXAMPLE_RULES = {"null_ids", "timestamp_parse", "no_future", "no_ancient"}
EXAMPLE_RULES |= {"event_types", "duplicates", "long_ids"}


def shown(value) -> str:
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
            mark = {"pass": "pass", "warn": "**WARN**", "fail": "**FAIL**"}[verdict(r)]
            lines.append(
                f"| {r['id']} | {r['rule']} | {shown(r['observed'])} | {r['severity']} | {mark} |"
            )
        lines.append("")
    return "\n".join(lines)


def examples(paths: RunPaths, cfg: PipelineConfig, results: list[dict], now: datetime) -> str:
    """Markdown of the first offending input rows of each raw-events rule that did not
    pass: a bounded query per rule, so the on-call sees the bad rows, not only counts."""
    rules = [
        r["id"]
        for r in results
        if r["checkpoint"] == RAW_EVENTS and not r["passed"] and r["id"] in EXAMPLE_RULES
    ]
    if not rules or cfg.quality.example_rows == 0:
        return ""
    low, high = cfg.extract.time_bounds(now)
    allowed = cfg.quality.allowed_event_types
    params = {
        "min_ts": low,
        "max_ts": high,
        "allowed_event_types": allowed,
        "max_id_chars": MAX_ID_CHARS,
    }
    lines = ["#### Examples (first offending input rows)", ""]
    with sqlrun.connect(paths.stage_db, read_only=True) as con:
        for rule in rules:
            cur = sqlrun.run(
                con,
                "quality/examples",
                {**params, "rule": rule, "limit": cfg.quality.example_rows},
            )
            lines += [f"{rule}:", "", "| input row | user_id | item_id | timestamp | event_type |"]
            lines.append("|---:|---|---|---|---|")
            for row in cur.fetchall():
                cells = ["" if v is None else str(v).replace("|", "\\|") for v in row]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def artifacts(
    report: StageReport, results: list[dict], notes: list[str], docs: Path | None
) -> None:
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
