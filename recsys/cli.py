"""`recsys` command line (see CONTRACT.md): run, refresh, backfill, tune, similar, recommend,
serve, rollback, generate.

The entry point above the flows: each command builds the explicit config layer from
--config and --set (checking the effective config before Prefect starts) and hands it to
its flow, which resolves it (recsys.config.resolve_config). Flows and the query modules are
imported inside the commands: `recsys similar` never loads Prefect or gensim, and a flow is
imported only after the environment Prefect and GX read at import is set.

Exit codes: 0 published; 1 other failure; 2 usage/configuration; 3 data quality; 4 gate.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from recsys import summary
from recsys.config import PipelineConfig, load_config, refresh_config, resolve_config
from recsys.errors import UsageError
from recsys.exitcodes import failure
from recsys.inputs import EventsInput, find, shown
from recsys.layout import check_data_dir, data_dir_of
from recsys.ops import signals
from recsys.ops.scaleout import task_runner as runner_of
from recsys.serve.startup import stop_requested

app = typer.Typer(
    help="item2vec recommender pipeline (Prefect + DuckDB + gensim + FAISS).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts say "[default: …]"; rich would eat the brackets
)


class Runner(StrEnum):
    threads = "threads"
    dask = "dask"


TaskRunner = Annotated[
    Runner | None,
    typer.Option(
        "--task-runner",
        help="Where parallel tasks run (= --set ops.task_runner=...): threads here, or a "
        "Dask cluster (ops.dask_address, or a LocalCluster of ops.dask_workers).",
    ),
]

Sets = Annotated[
    list[str] | None, typer.Option("--set", help="Override one config key, e.g. train.epochs=10.")
]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory [default: $RECSYS_DATA_DIR or ./data]."),
]


def _prepare_environment(folder: Path, events: str | None, cfg: PipelineConfig) -> None:
    """Check what can be checked before Prefect starts (a wrong path, an unreadable file or
    a missing column fails in a second, not after the API came up), then start the API the
    flows run on."""
    check_data_dir(folder)
    if events is not None:
        fmt, files = find(events, cfg.extract.input_format)
        from recsys.tasks.extract.columns import check_columns

        resolved = EventsInput(source=shown(events), format=fmt, files=files, fingerprint="")
        check_columns(resolved, cfg.extract)
    from recsys.data.attributes import check_attributes_path

    check_attributes_path(cfg.evaluate.item_attributes.path, "evaluate.item_attributes.path")
    check_attributes_path(cfg.export.item_attributes, "export.item_attributes")
    from recsys.ops.server import start_local_api
    from recsys.stage import quiet_expected_failures

    quiet_expected_failures()
    start_local_api()


@app.command()
def run(
    events: Annotated[
        str | None, typer.Option(help="Events file, glob or URL [default: MovieLens-100K].")
    ] = None,
    data_dir: DataDir = None,
    config: Annotated[Path | None, typer.Option(help="YAML config file.")] = None,
    set_: Sets = None,
    task_runner: TaskRunner = None,
) -> None:
    """Run the whole pipeline once and publish the model if every gate passes."""
    folder = data_dir_of(data_dir)
    explicit = load_config([config], _runner_set(set_, task_runner))
    cfg = resolve_config(explicit, data_dir=folder)  # a bad tuned.yaml fails here, exit 2
    from recsys.expectations import process as gx_process

    gx_process.start()  # first: GX imports in its own process while Prefect starts here
    _prepare_environment(folder, events, cfg)
    from recsys.flows.pipeline import pipeline

    result = pipeline.with_options(task_runner=runner_of(cfg.ops))(
        events=events, data_dir=str(folder), config=explicit
    )
    _print_run(result)


@app.command()
def refresh(
    events: Annotated[
        str | None,
        typer.Option(
            help="Landing folder, glob or file; only new files are read [default: MovieLens-100K]."
        ),
    ] = None,
    data_dir: DataDir = None,
    config: Annotated[Path | None, typer.Option(help="YAML config file.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override one key of the published config.")
    ] = None,
) -> None:
    """Ingest new events and republish recommendations from the published model (no training)."""
    folder = data_dir_of(data_dir)
    explicit = load_config([config], set_ or [])
    from recsys.tasks.train.adopt import champion_config, champion_manifest

    # Checked before the flow starts: no published model or a bad key is exit 2 at once.
    cfg = refresh_config(champion_config(champion_manifest(folder)), explicit)
    _prepare_environment(folder, events, cfg)
    from recsys.flows.refresh import refresh as refresh_flow

    result = refresh_flow(events=events, data_dir=str(folder), config=explicit)
    if not result.get("unchanged"):
        typer.echo(f"model of run {result['model_run']}, recommendations refreshed")
    _print_run(result)


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(help="First day (or time) of the range, UTC.")],
    end: Annotated[datetime, typer.Option(help="End of the range (excluded), UTC.")],
    events: Annotated[
        str | None, typer.Option(help="Files covering the range [default: MovieLens-100K].")
    ] = None,
    data_dir: DataDir = None,
    run_pipeline: Annotated[
        bool, typer.Option("--run-pipeline", help="Then run the pipeline incrementally.")
    ] = False,
    config: Annotated[Path | None, typer.Option(help="YAML config file.")] = None,
    set_: Sets = None,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Empty the range when EVENTS hold none of its rows."),
    ] = False,
) -> None:
    """Replace the warehouse's events in [START, END) with EVENTS' (a new file is read whole)."""
    from recsys.tasks.extract.backfill import backfill_range

    backfill_range(start, end)  # an empty range is exit 2 before Prefect starts
    folder = data_dir_of(data_dir)
    explicit = load_config([config], set_ or [])
    cfg = resolve_config(explicit, data_dir=folder)
    _prepare_environment(folder, events, cfg)
    from recsys.flows.backfill import backfill as backfill_flow

    result = backfill_flow(
        events=events,
        data_dir=str(folder),
        start=start,
        end=end,
        run_pipeline=run_pipeline,
        config=explicit,
        allow_empty=allow_empty,
    )
    details = result["backfill"]["details"]
    typer.echo(
        f"backfilled [{details['start']}, {details['end']}): "
        + ", ".join(f"{k} {details[k]:,}" for k in BACKFILL_COUNTS if k in details)
    )
    if "pipeline" in result:
        _print_run(result["pipeline"])


BACKFILL_COUNTS = ("files_new", "files_changed", "files_skipped", "rows_ingested", "warehouse_rows")


@app.command()
def tune(
    events: Annotated[
        str | None, typer.Option(help="Events file, glob or URL [default: MovieLens-100K].")
    ] = None,
    data_dir: DataDir = None,
    trials: Annotated[int | None, typer.Option(min=1, help="Trial budget.")] = None,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Wall-time budget of the trials, in seconds.")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="YAML config file.")] = None,
    set_: Sets = None,
    task_runner: TaskRunner = None,
) -> None:
    """Search training/export settings on a validation split; write DATA_DIR/tuned.yaml."""
    folder = data_dir_of(data_dir)
    overrides = _runner_set(set_, task_runner)
    overrides += [f"tune.trials={trials}"] if trials else []
    overrides += [f"tune.timeout_seconds={timeout}"] if timeout else []
    explicit = load_config([config], overrides)
    # as a run would, but a broken tuned.yaml is the flow's to warn about and replace
    cfg = resolve_config(explicit, data_dir=folder, on_bad_tuned=lambda _problem: None)
    _prepare_environment(folder, events, cfg)
    from recsys.flows.tune import tune as tune_flow

    # Trials run tune.parallel at a time: that many threads (a LocalCluster has dask_workers).
    result = tune_flow.with_options(task_runner=runner_of(cfg.ops, cfg.tune.parallel))(
        events=events, data_dir=str(folder), config=explicit
    )
    _echo(summary.tune_summary(result))


def _runner_set(set_: list[str] | None, task_runner: Runner | None) -> list[str]:
    """`--set` items plus `--task-runner` (the explicit option wins over a --set)."""
    return [*(set_ or []), *([f"ops.task_runner={task_runner.value}"] if task_runner else [])]


def _print_run(result: dict) -> None:
    _echo(summary.run_summary(result))


def _echo(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


# Beyond any list a model can hold; bounded so a huge -k is a usage error, not a crash.
MAX_K = 1_000_000


@app.command()
def similar(
    item_id: Annotated[str, typer.Argument(help="Item id to find neighbours for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=MAX_K, help="How many neighbours.")] = 10,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Nearest items to ITEM_ID from the published model."""
    from recsys.model.queries import similar as query

    _echo(summary.query_rows(query(data_dir_of(data_dir, must_exist=True), item_id, k), as_json))


@app.command()
def recommend(
    user_id: Annotated[str, typer.Argument(help="User id.")],
    k: Annotated[int, typer.Option("-k", min=1, max=MAX_K, help="How many items.")] = 10,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """The user's exported recommendations from the published model."""
    from recsys.model.queries import recommend as query

    _echo(summary.query_rows(query(data_dir_of(data_dir, must_exist=True), user_id, k), as_json))


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free one).")] = 8000,
    poll_seconds: Annotated[
        float, typer.Option(min=0.05, max=3600, help="How often published/current is checked.")
    ] = 1.0,
) -> None:
    """Serve the published model over HTTP until stopped (SIGINT/SIGTERM): /similar,
    /recommend, /health, /ready, /metrics, /docs; new runs are swapped in as published."""
    folder = data_dir_of(data_dir, must_exist=True)  # read only: a server never creates it
    from recsys.serve.startup import StopServing, stoppable

    try:
        with stoppable():  # a stop before uvicorn runs is a clean exit too
            from recsys.serve.server import bind
            from recsys.serve.server import serve as run_server

            sock = bind(host, port)  # an unknown address is exit 2, a port in use exit 1
            typer.echo(summary.serving_line(host, sock.getsockname()[1], folder))
            code = run_server(folder, sock, poll_seconds)
    except StopServing:
        code = 0
    raise typer.Exit(code)


@app.command()
def rollback(
    to: Annotated[str | None, typer.Option("--to", help="Run id [default: previous].")] = None,
    data_dir: DataDir = None,
) -> None:
    """Point `published/current` back to an earlier run."""
    from recsys.model.store import rollback as do_rollback

    typer.echo(f"current -> {do_rollback(data_dir_of(data_dir), to)}")


@app.command()
def runs(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Every run kept: id, created, metrics, gate verdict, which one is current."""
    from recsys.model.store import current_link, current_run, list_runs

    folder = data_dir_of(data_dir)
    rows = list_runs(folder)
    if not rows:
        # On stderr: with --json, stdout holds JSON lines only (here: none).
        typer.echo(summary.no_runs_line(folder), err=True)
    else:
        _echo(summary.runs_table(rows, as_json))
    if current_link(folder).is_symlink():
        current_run(folder)  # a `current` that points nowhere is an error (exit 1), not hidden


@app.command()
def generate(
    # Built in memory (~130 bytes an event at peak, 10^8 take ~13 GB; 10^7 items ~1 GB).
    events: Annotated[int, typer.Option("--events", min=2, max=10**8, help="Events (<= 10^8).")],
    out: Annotated[Path, typer.Option("--out", help="Output .parquet, .csv(.gz) or .jsonl.")],
    items: Annotated[int, typer.Option("--items", min=2, max=10**8, help="Catalogue size.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed.")] = 0,
) -> None:
    """Write deterministic synthetic events with planted item groups."""
    from recsys.data.synthetic import generate as make
    from recsys.data.synthetic import output_format, write

    output_format(out)  # a path that cannot be written fails before the events are made
    path = write(table := make(events, items, seed), out)
    drawn = len(table.column("item_id").unique())
    typer.echo(f"wrote {events:,} events over {drawn:,} of {items:,} items to {path}")


def _environment() -> None:
    """What Prefect and GX read when they are first imported (so: before any command runs).
    The ephemeral Prefect API can need more than its default 20 s to migrate SQLite on a
    small, busy machine; GX phones home unless told not to."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the contract's exit code instead of raising; every failure
    is one line on stderr (`error: ...`). A stop signal during a flow (recsys.ops.signals)
    ends with the shell's code for it (130 SIGINT, 143 SIGTERM), whatever error it became."""
    _environment()
    signals.install()
    try:
        # Not standalone, typer returns a `typer.Exit`'s code (and 130 for a Ctrl-C).
        code = app(args=argv, prog_name="recsys", standalone_mode=False) or 0
    except BaseException as exc:
        if stop_requested():  # `serve` stopped while typer dispatched it: a clean stop
            return 0
        # After a stop signal the error it became (e.g. DuckDB's "Query interrupted") is
        # noise: the signal is the answer.
        code = failure(exc) if signals.stopped() is None else 1
    if signals.stopped() is not None:
        name = signal.Signals(signals.stopped()).name
        rolled = "; a run not yet published was rolled back" if signals.in_flow() else ""
        typer.echo(f"error: stopped by {name}{rolled}", err=True)
        return signals.exit_code()
    return code


def console() -> None:
    """The `recsys` script: `main`, then exit without interpreter teardown.

    DuckDB's bindings (nanobind) print a "leaked instance" line per object still alive at
    teardown (an exception's traceback keeps connections and relations alive), dozens of
    lines under the one error line. The exit handlers (Prefect's log flush, the temporary
    API server's stop) run first; then the process ends without the teardown."""
    code = main()
    try:
        logging.shutdown()  # run logs reach the API before the exit handlers stop it
        atexit._run_exitfuncs()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


__all__ = ["UsageError", "app", "console", "main"]
