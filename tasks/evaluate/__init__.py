"""Evaluate: the published lists against tuned baselines on the held-out time split, the
champion, and the gate.

Two tasks share the cases (every next event of a held-out session; the items already seen
in that session removed from every list): `next_item` ranks from the session's last item
(item_recs.parquet), `session` from its whole recent past (user lists, live recall). The
baselines' lists are computed once in SQL (baselines.py), the model's with FAISS and channel
fusion (lists.py); everything is joined to the cases in DuckDB, with no Python loop per
test event. `metrics.json`, the diagnostics, the HTML run report and the warehouse history
row are written whatever the verdict, then a refusal raises GateRefused.

    baselines.py     popularity, co-occurrence, SR, windowed co-occurrence, item-kNN,
                     S-POP, whole-prefix SR, V-SKNN (SQL)
    lists.py         the model's channels and fused lists
    shards.py        the next-item task split into query-item ranges, combined exactly
    sessions.py      the session task (a sample of whole sessions)
    gate.py          the publish rules over the metrics
    reporting.py     diagnostics, history and report.html, with their artifact
    diagnostics.py   neighbour samples, clustering and the 2-D map (clusters.py)
    report.py        the self-contained HTML run report (charts.py)
    history.py       every run's metrics in the warehouse (`run_metrics`)
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from recsys import sqlrun
from recsys.config import EvaluateConfig, PipelineConfig, migrate_config
from recsys.config.evaluate import ITEM_BASELINES
from recsys.errors import GateRefused
from recsys.layout import BASELINE_LISTS, METRICS, REPORTS, RUN_REPORT, RunPaths, runs_dir
from recsys.model import index, store
from recsys.ops.scaleout import Mapper, inline, run_shards, shard_count, worker_id
from recsys.stage import (
    StageReport,
    in_prefect_run,
    logger,
    report_artifact,
    timed,
)
from recsys.tasks.evaluate import baselines, report, reporting
from recsys.tasks.evaluate import shards as shards_of
from recsys.tasks.evaluate.gate import embedding_stats, failures, gate_verdicts
from recsys.tasks.evaluate.selection import choice_notes, choose, split_sample
from recsys.tasks.evaluate.sessions import score_sessions
from recsys.tasks.evaluate.shards import Scored, load_evaluated


def load_champion(data_dir: Path) -> tuple[Scored, str] | None:
    """(the published run's evaluated model with its scoring and weights, its run id), or
    None when nothing is published.

    The evaluated model, not the refit one: the refit saw events this run may hold out. An
    unreadable champion is logged and treated as absent: it must not block a good model
    from replacing it."""
    try:
        run = store.current_run(data_dir)
    except Exception:
        return None
    try:
        config = PipelineConfig.model_validate(migrate_config(store.read_manifest(run)["config"]))
        scored = Scored.of(load_evaluated(run), config.export)
        return scored, run.name
    except Exception as exc:
        logger().warning("evaluate: champion %s unreadable (%s); rule skipped", run.name, exc)
        return None


def list_depth(cfg: EvaluateConfig) -> int:
    """How deep every list is scored: the largest K plus room for the session's items."""
    return max(cfg.ks) + cfg.list_depth


def write_baseline_lists(
    stage_db: Path, cfg: PipelineConfig, path: Path, sample_ppm: int = shards_of.ALL_SESSIONS
) -> None:
    """Every item baseline's list (and the count channel's) for every item of the scored
    test sessions (`sample_ppm`), mined from the training split, into one Parquet file the
    shards and the session task read."""
    sources = dict.fromkeys([*ITEM_BASELINES, cfg.export.count_channel])
    with sqlrun.connect(stage_db, read_only=True) as con:
        sqlrun.run(con, "evaluate/wanted_items", {"sample_lo": 0, "sample_ppm": sample_ppm})
        baselines.item_lists(con, cfg.evaluate, list_depth(cfg.evaluate), sources=sources)
        sqlrun.run(con, "evaluate/lists_write", {"path": str(path)})


def compute_metrics(
    stage_db: Path,
    model: Scored,
    cfg: PipelineConfig,
    champion: tuple[Scored, str] | None = None,
    *,
    shards: int = 1,
    mapper: Mapper | None = None,
    work: Path | None = None,
    select: bool = False,
) -> dict:
    """Both tasks' accuracy at every K for the model, the baselines and the champion; the
    next-item task's slices, coverage/popularity bias; the vocabulary coverage.

    With `select`, the model's weights are chosen on some of the held-out sessions and
    every metric is computed on others (`choice.split_sample`, `choice.choose`).
    The next-item cases are split into `shards` query-item ranges; `mapper` runs the shard
    calls (default: here, one after the other, with these in-memory vectors) and the
    counts they return are combined (see shards.py)."""
    ev, k_gate = cfg.evaluate, cfg.gate.k
    depth = list_depth(ev)
    champ = None if champion is None else champion[0]
    # At most `evaluate.max_cases` cases: the cost of every list below follows them.
    sample_ppm = shards_of.sample_share(stage_db, ev.max_cases)
    selection, lists_ppm, chooser = None, sample_ppm, None
    if select:
        gate_ppm, chooser = split_sample(stage_db, ev)
        lists_ppm = chooser[1]
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        lists_path = Path(tmp) / BASELINE_LISTS
        write_baseline_lists(stage_db, cfg, lists_path, lists_ppm)
        if chooser is not None:
            selection = choose(stage_db, model, cfg, lists_path, chooser)
        if selection is not None:
            model = selection.pop("model")
            sample_ppm = gate_ppm  # the gate scores sessions the choice did not see
            channel = selection["export"].get("count_channel", cfg.export.count_channel)
            cfg = cfg.model_copy(
                update={"export": cfg.export.model_copy(update={"count_channel": channel})}
            )
        calls = [
            {
                "stage_db": stage_db,
                "lists_path": lists_path,
                "count_channel": cfg.export.count_channel,
                "ks": ev.ks,
                "depth": depth,
                "exclude_seen": ev.exclude_session_items,
                "k_gate": k_gate,
                "head_share": ev.head_share,
                "short_max": ev.short_session_max,
                "threads": index.search_threads(),
                "lo": lo,
                "hi": hi,
                "shown_path": Path(tmp) / f"shown-{i:04d}.parquet",
                "sample_ppm": sample_ppm,
            }
            for i, (lo, hi) in enumerate(
                shards_of.plan(stage_db, shards, ev.search_batch, sample_ppm)
            )
        ]
        if mapper is None:
            mapper = inline(partial(shards_of.score_shard, model=model, champion=champ))
        else:  # shards elsewhere load the vectors themselves; the weights may be chosen
            calls = [c | {"weights": model.weights} for c in calls]
        parts = mapper(calls)
        combined = shards_of.combine(stage_db, parts, f"{tmp}/shown-*.parquet", ev.ks, k_gate)
        sessions = score_sessions(stage_db, model, champ, lists_path, cfg, depth, sample_ppm)
    with sqlrun.connect(stage_db, read_only=True) as con:
        con.register("model_vocab", pa.table({"item_id": pa.array(model.emb.item_ids.tolist())}))
        test_events, vocab_coverage = sqlrun.run(con, "evaluate/vocab_coverage").fetchone()
    metrics = {
        "task": "next-item prediction on the held-out time split (items already in the "
        "session removed)"
        if ev.exclude_session_items
        else "next-item prediction",
        "scoring": model.scoring,
        "weights": {
            "item": model.weights.model_dump(),
            "session": model.session_weights.model_dump(),
        },
        "recency_decay": model.recency_decay,
        # How the weights were chosen (None: as configured, every sampled case gated).
        "selection": selection,
        "count_channel": cfg.export.count_channel,
        "ks": ev.ks,
        "test_pairs": combined["pairs"],
        # The share of held-out sessions scored (evaluate.max_cases; 1 = all of them).
        "sampled_share": sample_ppm / shards_of.ALL_SESSIONS,
        "test_events": test_events,
        "query_items": sum(p.queries for p in parts),
        "query_items_in_vocabulary": sum(p.queries_known for p in parts),
        "vocab_coverage": float(vocab_coverage),
        "models": combined["models"],
        "slices": combined["slices"],
        "session_cases": sessions.get("cases", 0),
        "session_models": sessions.get("models", {}),
        # At the gate's K: per source, the cases only the published lists hit and the cases
        # only that source hit (the paired difference the gate tests).
        "paired": {"item": combined["paired"], "session": sessions.get("paired", {})},
    }
    if champion is not None:
        metrics["champion"] = {"run_id": champion[1], "scoring": champion[0].scoring}
    return metrics


def evaluate(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    """Score model, baselines and champion under `export.scoring`; write metrics,
    diagnostics and the run report; raise GateRefused when a rule fails and the gate is
    enforced.

    The scoring is split into `scaleout.shard_count(cfg.ops)` shards, which run as Prefect
    tasks on the flow's task runner (the result does not depend on it)."""
    gate, ops = cfg.gate, cfg.ops
    stage = StageReport(name="evaluate")
    with timed(stage):
        # A refresh adopts the champion's evaluated model beside its served one.
        emb = load_evaluated(paths.out)
        model = Scored.of(emb, cfg.export)
        champion = load_champion(paths.data_dir)
        shards = shard_count(ops)
        mapper, workers = None, {worker_id()}
        if shards > 1:
            mapper = _shard_mapper(paths, cfg, champion, workers)
        metrics = compute_metrics(
            paths.stage_db,
            model,
            cfg,
            champion,
            shards=shards,
            mapper=mapper,
            work=paths.work_dir,
            select=cfg.evaluate.select_weights,
        )
        if metrics["test_pairs"] == 0:
            raise GateRefused("evaluate: the test split has no next-item pairs to score")
        metrics["embedding"] = embedding_stats(emb.vectors, emb.context)
        verdicts = gate_verdicts(metrics, metrics["embedding"], gate)
        passed = all(v["passed"] for v in verdicts)
        metrics["gate"] = {
            "passed": passed,
            "enforced": gate.enforce,
            "k": gate.k,
            "rules": verdicts,
        }
        metrics["evaluated_at"] = datetime.now(UTC).isoformat()
        (paths.out / METRICS).write_text(json.dumps(metrics, indent=2))
        html = reporting.write_run_report(paths, cfg, metrics, emb)
        stage.rows_in, stage.rows_out = metrics["test_pairs"], len(metrics["models"])
        at = f"hr@{gate.k}"
        stage.details = {
            f"{task} {source} {at}": round(values[at], 4)
            for task, models in (
                ("item", metrics["models"]),
                ("session", metrics["session_models"]),
            )
            for source, values in models.items()
        }
        if metrics["selection"] is not None:
            stage.decided = {"export": metrics["selection"]["export"]}
            details, warnings = choice_notes(metrics["selection"])
            stage.details |= details
            for warning in warnings:
                logger().warning("evaluate: %s", warning)
        stage.details["gate"] = "passed" if passed else "REFUSED"
        stage.details["shards"] = shards
        stage.details["shard workers"] = ", ".join(sorted(workers))
    _artifacts(stage, metrics, html, paths)
    if not passed:
        failed = failures(verdicts)
        if gate.enforce:
            # A refused run is rolled back to its reports (tasks/rundir.py): name that place.
            kept = paths.work_dir / REPORTS / RUN_REPORT if html is not None else None
            raise GateRefused(
                f"evaluation gate refused the model: {failed}{_advice(verdicts, kept)}"
            )
        logger().warning("gate would refuse (%s) but gate.enforce=false: publishing", failed)
    return stage


def _advice(verdicts: list[dict], html: Path | None) -> str:
    """Where to look and what to turn, appended to a refusal."""
    failed = {v["rule"].split("_hr@")[0] for v in verdicts if not v["passed"]}
    knobs = []
    if failed & {"item_lists_vs_best_baseline", "session_lists_vs_best_baseline", "min"}:
        knobs.append(
            "run `recsys tune` on this data (it tunes the model, its channel weights and the "
            "baselines), or relax gate.min_lift / gate.significance / gate.baselines"
        )
    if "not_worse_than_champion" in failed:
        knobs.append("gate.champion_tolerance")
    if failed & {"finite_vectors", "vector_norms_in_range"}:
        knobs.append("lower train.alpha or train.epochs")
    if "vocab_coverage_of_test_events" in failed:
        knobs.append("gate.min_vocab_coverage, or train on fresher events")
    report = f"; report: {html}" if html is not None else ""
    return report + (f"; to change the outcome: {'; '.join(knobs)}" if knobs else "")


def _shard_mapper(
    paths: RunPaths, cfg: PipelineConfig, champion: tuple[Scored, str] | None, workers: set
) -> Mapper:
    """Shards as Prefect tasks: they read the vectors from the run folders (paths only);
    `workers` collects where they ran."""
    where = {
        "model_dir": paths.out,
        "scoring": cfg.export.scoring,
        "champion_dir": None if champion is None else runs_dir(paths.data_dir) / champion[1],
        "champion_scoring": None if champion is None else champion[0].scoring,
        "champion_weights": None if champion is None else champion[0].weights,
    }

    def mapper(calls: list[dict]) -> list[shards_of.ShardCounts]:
        parts = run_shards(shards_of.evaluate_shard_task, [c | where for c in calls], cfg.ops)
        workers.clear()
        workers.update(p.worker for p in parts)
        return parts

    return mapper


def _artifacts(stage: StageReport, metrics: dict, html: Path | None, paths: RunPaths) -> None:
    if not in_prefect_run():
        return
    from prefect.artifacts import create_table_artifact

    create_table_artifact(
        table=report.key_table(metrics), key="recsys-metrics", description="item lists vs baselines"
    )
    if metrics.get("session_models"):
        create_table_artifact(
            table=report.key_table(metrics, "session_models"),
            key="recsys-session-metrics",
            description="session and user lists vs baselines",
        )
    if html is not None:
        reporting.link_report(paths, metrics, html)
    gate = metrics.get("gate", {"rules": []})
    lines = ["| rule | observed | threshold | verdict | note |", "|---|---:|---:|---|---|"]
    for v in gate["rules"]:
        verdict = "pass" if v["passed"] else "**FAIL**"
        lines.append(
            f"| {v['rule']} | {v['observed']} | {v['threshold']} | {verdict} "
            f"| {v.get('note', '')} |"
        )
    report_artifact(stage, "#### Gate\n\n" + "\n".join(lines))


@task(name="evaluate", retries=0, cache_policy=NONE)
def evaluate_task(paths: RunPaths, cfg: PipelineConfig) -> StageReport:
    return evaluate(paths, cfg)
