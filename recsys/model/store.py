"""The published-run store: manifests, verified loading, atomic switching, rollback, retention.

`DATA_DIR/published/current` is a symlink to `../runs/<run_id>`. It is only ever changed by
creating a new symlink beside it and renaming it over the old one (rename(2) is atomic), so
a reader, or a crash at any instant, sees either the old run or the new one.

A manifest carries a `schema_version`; `read_manifest` brings one written by an older
version up to `MANIFEST_VERSION` in memory (the file is never rewritten) or refuses it with
one line, so no other code handles older runs. Serving needs only numpy, pyarrow and faiss:
no training library is imported here.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from recsys.config import migrate_config
from recsys.errors import PublishError, UsageError
from recsys.layout import (
    CURRENT,
    MANIFEST,
    PUBLISH_LOCK,
    current_link,
    current_target,
    history_path,
    published_dir,
    runs_dir,
)

# 1: `schema_version`, `model_run` and `bytes` of every file always present; the config
# names the sane-time bounds under `extract` (0: every manifest written before).
MANIFEST_VERSION = 1


def sha256_file(path: Path, sync: bool = False) -> str:
    """Hex sha256 of a file; `sync` first forces it to disk (publishing: the bytes we hash
    are the bytes that survive a power cut)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if sync:
            os.fsync(handle.fileno())
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def crash_point(name: str) -> None:
    """Test hook: with RECSYS_PAUSE_AT=<name>, write RECSYS_PAUSE_FILE and sleep here so a
    test can SIGKILL the process at exactly this step. Inert otherwise."""
    if os.environ.get("RECSYS_PAUSE_AT") == name:
        Path(os.environ["RECSYS_PAUSE_FILE"]).write_text(name)
        time.sleep(60)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_run(data_dir: Path) -> Path:
    """The run folder `current` points at; PublishError if nothing is published."""
    link = current_link(data_dir)
    if not link.is_symlink() and not link.exists():
        raise PublishError(f"no published model in {data_dir} (run `recsys run` first)")
    target = link.resolve()
    if not (target / MANIFEST).is_file():
        raise PublishError(f"{link} points at {target}, which has no {MANIFEST}")
    return target


def migrate_manifest(manifest: dict, run_dir: Path) -> dict:
    """The one migration path of the store: `manifest` at `MANIFEST_VERSION`.

    Version 0 (no `schema_version`) is brought up: `model_run` is the run itself, the
    config's moved keys go to their new place (`recsys.config.migrate_config`), and a file
    listed without its size gets the size it has (the sha256 still guards what is read).
    A newer version is refused: this code cannot know what it changed."""
    version = manifest.get("schema_version", 0)
    if version > MANIFEST_VERSION:
        raise PublishError(
            f"{Path(run_dir).name}: {MANIFEST} has schema_version {version}, newer than this "
            f"recsys reads ({MANIFEST_VERSION}); upgrade recsys"
        )
    if version == MANIFEST_VERSION:
        return manifest
    up = {**manifest}
    up["schema_version"] = MANIFEST_VERSION
    up.setdefault("model_run", manifest.get("run_id"))
    if isinstance(manifest.get("config"), dict):
        up["config"] = migrate_config(manifest["config"])
    up["files"] = {
        name: {"bytes": _size(Path(run_dir) / name), **meta}
        for name, meta in manifest["files"].items()
    }
    return up


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


def read_manifest(run_dir: Path) -> dict:
    """The run's manifest at `MANIFEST_VERSION`; PublishError if unreadable or too new."""
    try:
        manifest = json.loads((Path(run_dir) / MANIFEST).read_text())
        names = list(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise PublishError(f"{Path(run_dir).name}: unreadable {MANIFEST} ({reason})") from exc
    outside = [n for n in names if not _plain(n)]
    if outside:  # never stat or hash a path that leaves the run folder
        raise PublishError(
            f"{Path(run_dir).name}: {MANIFEST} lists a file outside the run folder ({outside[0]!r})"
        )
    return migrate_manifest(manifest, run_dir)


def _plain(name: object) -> bool:
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
    )


def verify(run_dir: Path, hashed: set[str] | None = None) -> dict:
    """Check the run's files against its manifest; returns the manifest.

    Every listed file must exist with its recorded size (cheap: catches truncated and
    half-copied runs); the sha256 is checked for the files in `hashed` (None = all), so a
    query hashes only what it reads (tens of MB at 100k items, ~0.1 s). A file in `hashed`
    that the folder holds but the manifest does not list is refused (it was put there
    later); one it neither holds nor lists is not read, so there is nothing to check.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    if not manifest["files"]:  # verifies nothing: not a run
        raise PublishError(f"{run_dir.name}: {MANIFEST} lists no files")
    refuse = f"refusing run {run_dir.name} (tampered or half-written; `recsys rollback`)"
    for name, meta in manifest["files"].items():
        path = run_dir / name
        if not path.is_file():
            raise PublishError(f"{refuse}: {name} listed in the manifest is missing")
        if path.stat().st_size != meta["bytes"]:
            raise PublishError(
                f"{refuse}: {name} has {path.stat().st_size} bytes, manifest says {meta['bytes']}"
            )
        if (hashed is None or name in hashed) and sha256_file(path) != meta["sha256"]:
            raise PublishError(f"{refuse}: {name} does not match its manifest sha256")
    unlisted = [
        n for n in sorted((hashed or set()) - manifest["files"].keys()) if (run_dir / n).exists()
    ]
    if unlisted:
        raise PublishError(f"{refuse}: {', '.join(unlisted)} not in the manifest")
    return manifest


@contextmanager
def publishing(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's publish lock: one run at a time checks what is current
    and switches it, so a check is never stale by the time its switch happens."""
    folder = published_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / PUBLISH_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
        yield
    finally:
        os.close(fd)


def history(data_dir: Path) -> list[dict]:
    path = history_path(data_dir)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def switch_current(data_dir: Path, run_id: str, action: str = "publish") -> None:
    """Point `current` at runs/<run_id> atomically and record it in the history."""
    target = runs_dir(data_dir) / run_id
    if not (target / MANIFEST).is_file():
        raise PublishError(f"run {run_id} is not a complete run (no {MANIFEST})")
    pub = published_dir(data_dir)
    pub.mkdir(parents=True, exist_ok=True)
    tmp = pub / f".{CURRENT}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(current_target(run_id))
    crash_point("link_created")
    os.replace(tmp, current_link(data_dir))
    fsync_dir(pub)
    entry = {"run_id": run_id, "action": action, "at": datetime.now(UTC).isoformat()}
    with open(history_path(data_dir), "a") as handle:
        handle.write(json.dumps(entry) + "\n")


def rollback(data_dir: Path, to: str | None = None) -> str:
    """Repoint `current` to `to`, or to the run published before the current one.

    "Before" is publishing order, not the history of switches: after a rollback from C to
    B, the next one goes to A, never forward to C again, and `--to C` is refused too (a
    rollback only goes back; `recsys run` publishes anew). `to` must name a folder directly
    under runs/ (no path, no symlink out of it) whose manifest verifies. A `current` whose
    run folder is gone keeps its place in that order, so a rollback recovers from it."""
    current = _current_name(data_dir)
    published = list(dict.fromkeys(h["run_id"] for h in history(data_dir) if _published(h)))
    if to is None:
        if current is None:
            raise UsageError(f"rollback: no published model in {data_dir}")
        earlier = published[: published.index(current)] if current in published else published
        candidates = [
            r for r in reversed(earlier) if r != current and (runs_dir(data_dir) / r).is_dir()
        ]
        if not candidates:
            raise UsageError(f"rollback: no run was published before {current}")
        to = candidates[0]
    folder = runs_dir(data_dir)
    target = folder / to
    inside = _plain(to) and not target.is_symlink() and target.resolve().parent == folder.resolve()
    if not inside:
        raise UsageError(f"rollback --to takes a run id (a folder name in {folder}), got '{to}'")
    if not target.is_dir():
        raise UsageError(f"rollback: no run '{to}' in {folder}")
    try:
        verify(target)
    except PublishError as exc:
        raise UsageError(f"rollback: {exc}") from exc
    if {to, current} <= set(published) and published.index(to) > published.index(current):
        raise UsageError(
            f"rollback: {to} was published after the current run {current}; a rollback "
            "only goes back (`recsys run` publishes a new model)"
        )
    if to != current:  # already current: nothing to switch, nothing to record
        switch_current(data_dir, to, action="rollback")
    return to


def _current_name(data_dir: Path) -> str | None:
    """The run id `current` names, even when its folder is gone; None with no `current`."""
    link = current_link(data_dir)
    if not link.is_symlink():
        return current_run(data_dir).name if link.exists() else None
    return Path(os.readlink(link)).name


def _published(entry: dict) -> bool:
    return entry.get("action", "publish") == "publish"


def list_runs(data_dir: Path) -> list[dict]:
    """Every run kept under runs/, oldest first: id, created, metrics of the published
    lists, gate verdict and whether it is current. A run whose manifest is unreadable or
    whose files do not have their recorded sizes is listed with the reason instead of
    failing the listing."""
    folder = runs_dir(data_dir)
    if not folder.is_dir():
        return []
    try:
        current = current_run(data_dir).name
    except PublishError:
        current = None
    rows = []
    for run in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        row: dict = {"run_id": run.name, "current": run.name == current}
        try:
            # Sizes only (a stat per file, nothing hashed): a truncated or half-copied run,
            # current or not, is listed with the reason `similar` and `serve` refuse it.
            manifest = verify(run, hashed=set())
        except PublishError as exc:
            rows.append({**row, "error": str(exc)})
            continue
        gate = manifest.get("gate") if isinstance(manifest.get("gate"), dict) else {}
        models = manifest.get("metrics") if isinstance(manifest.get("metrics"), dict) else {}
        model = models.get("item2vec") if isinstance(models.get("item2vec"), dict) else {}
        metrics = {k: v for k, v in model.items() if isinstance(v, int | float)}
        rows.append(
            {
                **row,
                "created_at": manifest.get("created_at"),
                "model_run": manifest.get("model_run"),
                "metrics": metrics,
                "gate": {True: "passed", False: "refused"}.get(gate.get("passed")),
            }
        )
    return rows


def prune(data_dir: Path, keep: int) -> list[str]:
    """Delete old run folders beyond the newest `keep`; never current or the previous one."""
    folder = runs_dir(data_dir)
    for leftover in folder.glob(".deleting-*"):  # a prune killed mid-delete
        shutil.rmtree(leftover, ignore_errors=True)
    runs = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    published = [h["run_id"] for h in history(data_dir)]
    protected = set(published[-2:])
    if current_link(data_dir).exists():
        protected.add(current_run(data_dir).name)
    removed = []
    for run_id in runs[:-keep] if keep > 0 else runs:
        if run_id not in protected:
            # Rename first (atomic), so a kill mid-delete never leaves a half run in runs/.
            doomed = folder / f".deleting-{run_id}"
            os.rename(folder / run_id, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            removed.append(run_id)
    return removed
