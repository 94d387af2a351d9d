"""The run directory as a Prefect transaction: opened by a task, rolled back on failure.

A flow opens its run inside `prefect.transactions.transaction()`. `open_run_task` is the
first task to complete in it, so its rollback hook runs whenever any later stage raises
(extract, quality, train, evaluate, export, or publish before `current` moved). The hook
removes the half-written run: the model, index and recommendation files assembled in
`work/<id>/run/`, the stage database and corpus, and a `runs/<id>` folder that publish
renamed but never switched `current` to. Reports a person needs to see why the run
stopped (JSON summaries, quality and evaluation reports, GX Data Docs) move to
`work/<id>/reports/` beside a `FAILED` note, and a failure artifact says where.

Only `open-run` belongs to the transaction. Prefect 3.8 rolls a flow-level transaction
back as soon as any child task *attempt* fails, even one its retries will repeat (checked:
a task failing once with retries=1 ran the sibling's rollback hook, then succeeded), so the
stage tasks run detached from it and the rollback comes from the exception that finally
leaves the flow's stages. A SIGKILL runs no hook; publish's own ordering covers that case
(see tasks/publish.py).
"""

from __future__ import annotations

import shutil
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE
from prefect.transactions import Transaction, transaction

from recsys.layout import DATA_DOCS, FAILED, OWNER, REPORTS, WORK, RunPaths
from recsys.model import store
from recsys.ops import owner
from recsys.stage import StageReport, in_prefect_run, logger

PATHS_KEY = "recsys_run_paths"
# What a person reads after a failure; everything else in the run folder is model data.
REPORT_SUFFIXES = {".json", ".md", ".html", ".png", ".svg"}
REPORT_DIRS = {DATA_DOCS}


def open_run(paths: RunPaths) -> StageReport:
    """Create the run's folders, owned by this process (`recsys.ops.owner`), after
    sweeping the folders of runs that died without rolling back (`run_transaction`
    remembers the folders for the rollback hook)."""
    swept = sweep_dead_runs(paths.data_dir, keep=paths.run_id)
    pruned = prune_kept_reports(paths.data_dir, keep=paths.run_id)
    owner.claim(paths.work_dir)
    paths.ensure()
    details = {
        "work_dir": str(paths.work_dir),
        "swept_dead_runs": ", ".join(swept) or "none",
        "pruned_old_reports": len(pruned),
    }
    return StageReport(name="open_run", details=details)


def sweep_dead_runs(data_dir: Path, keep: str | None = None) -> list[str]:
    """Roll back the work folders whose run provably died (killed, crashed, power lost):
    the stage database, corpus and unswitched run go, the reports stay with a FAILED
    note, as after any failed run. A live run's folder, a rolled-back one (it has its
    FAILED note) and a folder without an owner file are left as they are."""
    work = data_dir / WORK
    swept = []
    for folder in sorted(work.iterdir()) if work.is_dir() else []:
        dead = folder.is_dir() and folder.name != keep and not (folder / FAILED).exists()
        if not dead or not owner.is_dead(folder):
            continue
        paths = RunPaths(data_dir=data_dir, run_id=folder.name)
        if _current_id(paths) == folder.name:  # killed after its switch: it is published
            shutil.rmtree(folder, ignore_errors=True)
        else:
            discard_run(
                paths,
                "the run's process died without rolling back (killed or "
                "crashed); swept by a later run\n",
            )
        swept.append(folder.name)
    if swept:
        logger().warning("swept the work folders of dead runs: %s", ", ".join(swept))
    return swept


# Work folders kept after their run or search ended (a failed run's reports, a finished
# search's trials): the newest this many; older ones go, or a scheduled run failing nightly
# (or a weekly tune) would fill the disk with reports nobody reads.
KEEP_REPORTS = 20


def prune_kept_reports(data_dir: Path, keep: str | None = None) -> list[str]:
    """Remove all but the newest `KEEP_REPORTS` ended work folders under DATA_DIR/work (a
    FAILED note, or no owner file: finished); a live run's folder is never touched."""
    work = data_dir / WORK
    ended = [
        folder
        for folder in (sorted(work.iterdir()) if work.is_dir() else [])
        if folder.is_dir()
        and folder.name != keep
        and ((folder / FAILED).exists() or not (folder / OWNER).exists())
    ]
    old = ended[: max(0, len(ended) - KEEP_REPORTS)]
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
    return [folder.name for folder in old]


# No retries: a failed attempt would roll the transaction back before it holds the hook.
@task(name="open-run", cache_policy=NONE)
def open_run_task(paths: RunPaths) -> StageReport:
    return open_run(paths)


@contextmanager
def run_transaction(paths: RunPaths) -> Iterator[Transaction]:
    """Open the run in a transaction; an exception from the block rolls it back."""
    try:
        with transaction() as txn:
            txn.set(PATHS_KEY, paths)
            open_run_task(paths)
            detached = Transaction.__var__.set(None)  # see the module docstring
            try:
                yield txn
            finally:
                Transaction.__var__.reset(detached)
    finally:
        owner.release(paths.work_dir)


@contextmanager
def scratch_run(paths: RunPaths) -> Iterator[None]:
    """A search's work folder (`recsys tune`, under DATA_DIR/tune): the folders of searches
    that died are swept first, as runs sweep theirs; a search that fails or is stopped
    leaves its reports and a FAILED note, not its stage database and corpora; a finished
    one keeps its outputs and is never swept."""
    sweep_dead_runs(paths.data_dir, keep=paths.run_id)
    prune_kept_reports(paths.data_dir, keep=paths.run_id)
    owner.claim(paths.work_dir)
    try:
        yield
    except BaseException:
        discard_run(paths, f"the search stopped: {_reason()}")
        raise
    else:
        (paths.work_dir / OWNER).unlink(missing_ok=True)  # finished: nothing to sweep
    finally:
        owner.release(paths.work_dir)


def discard_run(paths: RunPaths, reason: str) -> list[str]:
    """Remove everything a failed run wrote except its reports; returns what was removed.

    Idempotent: a second call (a hook retried, a flow re-raising) finds nothing to do."""
    removed: list[str] = []
    final = paths.final_dir
    if final.exists() and _current_id(paths) != paths.run_id:
        # Renamed by publish but never switched to: take it back, then discard as usual.
        shutil.rmtree(paths.out, ignore_errors=True)
        paths.work_dir.mkdir(parents=True, exist_ok=True)
        final.rename(paths.out)
        removed.append(str(final))
    if not paths.work_dir.exists():
        return removed
    removed += keep_only_reports(paths, keep=(FAILED,))
    (paths.work_dir / FAILED).write_text(reason)
    return removed


def keep_only_reports(paths: RunPaths, keep: tuple[str, ...] = ()) -> list[str]:
    """Move the report files of `work/<id>/run/` to `work/<id>/reports/` and remove the rest
    of the work folder but `keep`; returns what was removed. The owner file goes too, so
    the folder counts as ended: `prune_kept_reports` keeps only the newest ones."""
    removed: list[str] = []
    reports = paths.work_dir / REPORTS
    if paths.out.exists():
        reports.mkdir(exist_ok=True)
        for item in sorted(paths.out.iterdir()):
            wanted = item.name in REPORT_DIRS if item.is_dir() else item.suffix in REPORT_SUFFIXES
            if wanted:
                item.rename(reports / item.name)
        shutil.rmtree(paths.out)
        removed.append(str(paths.out))
    for item in sorted(paths.work_dir.iterdir()):
        if item.name not in (REPORTS, *keep):
            shutil.rmtree(item) if item.is_dir() else item.unlink()
            removed.append(str(item))
    return removed


def _current_id(paths: RunPaths) -> str | None:
    try:
        return store.current_run(paths.data_dir).name
    except Exception:
        return None


def _reason() -> str:
    exc = sys.exc_info()[1]
    if exc is None:
        return "run rolled back\n"
    return f"{type(exc).__name__}: {exc}\n\n{''.join(traceback.format_exception(exc))}"


@open_run_task.on_rollback
def _rollback(txn: Transaction) -> None:
    paths: RunPaths | None = txn.get(PATHS_KEY, None)
    if paths is None:
        return
    reason = _reason()
    removed = discard_run(paths, reason)
    unswitched = str(paths.final_dir) in removed
    logger().warning("run %s rolled back: removed %d paths", paths.run_id, len(removed))
    if in_prefect_run():
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(
            markdown=f"### Run {paths.run_id} failed and was rolled back\n\n"
            f"`{reason.splitlines()[0]}`\n\nRemoved: model, index and recommendation files, "
            f"stage data{', the unswitched runs/ folder' if unswitched else ''}. Reports kept in "
            f"`{paths.work_dir / REPORTS}`; `published/current` is unchanged.",
            key="recsys-failure",
            description="why the run stopped",
        )


def failed_reason(work_dir: Path) -> str:
    """First line of a rolled-back run's FAILED note ('' if the run did not fail)."""
    note = Path(work_dir) / FAILED
    return note.read_text().splitlines()[0] if note.is_file() else ""
