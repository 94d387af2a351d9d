"""The published model: atomic switching, rollback, retention, verified loading, queries.

`DATA_DIR/published/current` is a symlink to `../runs/<run_id>`. It is only ever changed by
creating a new symlink beside it and renaming it over the old one (rename(2) is atomic), so
a reader, or a crash at any instant, sees either the old run or the new one.
Serving needs only numpy, pyarrow and faiss: no training library is imported here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from recsys.errors import PublishError, UsageError
from recsys.layout import current_link, published_dir, runs_dir

MANIFEST = "manifest.json"
HISTORY = "history.jsonl"
# What `similar` reads, hashed on every load; other files are checked by size only.
SIMILAR_FILES = ("vectors.npy", "context_vectors.npy", "vocab.parquet", "index.faiss", "index.json")


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


def read_manifest(run_dir: Path) -> dict:
    try:
        manifest = json.loads((Path(run_dir) / MANIFEST).read_text())
        manifest["files"].items()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PublishError(f"{Path(run_dir).name}: unreadable {MANIFEST} ({exc})") from exc
    return manifest


def verify(run_dir: Path, hashed: set[str] | None = None) -> dict:
    """Check the run's files against its manifest; returns the manifest.

    Every listed file must exist with its recorded size (cheap: catches truncated and
    half-copied runs); the sha256 is checked for the files in `hashed` (None = all), so a
    query hashes only what it reads (tens of MB at 100k items, ~0.1 s).
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    refuse = f"refusing run {run_dir.name} (tampered or half-written; `recsys rollback`)"
    for name, meta in manifest["files"].items():
        path = run_dir / name
        if not path.is_file():
            raise PublishError(f"{refuse}: {name} listed in the manifest is missing")
        if "bytes" in meta and path.stat().st_size != meta["bytes"]:
            raise PublishError(
                f"{refuse}: {name} has {path.stat().st_size} bytes, manifest says {meta['bytes']}"
            )
        if (hashed is None or name in hashed) and sha256_file(path) != meta["sha256"]:
            raise PublishError(f"{refuse}: {name} does not match its manifest sha256")
    # A file a query reads must be covered by the manifest (older runs may lack index.json:
    # absent and unlisted is fine, present and unlisted is not).
    unlisted = [
        n for n in sorted((hashed or set()) - manifest["files"].keys()) if (run_dir / n).exists()
    ]
    if unlisted:
        raise PublishError(f"{refuse}: {', '.join(unlisted)} not in the manifest")
    return manifest


def history(data_dir: Path) -> list[dict]:
    path = published_dir(data_dir) / HISTORY
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
    tmp = pub / f".current-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path("..") / "runs" / run_id)
    crash_point("link_created")
    os.replace(tmp, current_link(data_dir))
    fsync_dir(pub)
    entry = {"run_id": run_id, "action": action, "at": datetime.now(UTC).isoformat()}
    with open(pub / HISTORY, "a") as handle:
        handle.write(json.dumps(entry) + "\n")


def rollback(data_dir: Path, to: str | None = None) -> str:
    """Repoint `current` to `to`, or to the run published before the current one."""
    if to is None:
        current = current_run(data_dir).name
        earlier = [h["run_id"] for h in history(data_dir) if h["run_id"] != current]
        candidates = [r for r in reversed(earlier) if (runs_dir(data_dir) / r).is_dir()]
        if not candidates:
            raise UsageError("rollback: no earlier published run to return to")
        to = candidates[0]
    if not (runs_dir(data_dir) / to).is_dir():
        raise UsageError(f"rollback: no run '{to}' in {runs_dir(data_dir)}")
    verify(runs_dir(data_dir) / to)
    switch_current(data_dir, to, action="rollback")
    return to


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


def similar(data_dir: Path, item_id: str, k: int) -> list[dict]:
    """Nearest items to `item_id` from the published index under the run's scoring, never
    itself (raw model neighbours: the business rules shape `item_recs.parquet`). An item
    without a vector gets its exported cold-start list instead, labelled by `source`."""
    import numpy as np

    from recsys import index
    from recsys.vocab import Embedding

    run = current_run(data_dir)
    manifest = verify(run, hashed=set(SIMILAR_FILES))
    scoring = manifest["config"]["export"]["scoring"]
    emb = Embedding.load(run)
    row = emb.rows([item_id])[0]
    if row < 0:
        return _cold_item(run, item_id, k)
    queries, _ = emb.spaces(scoring)
    scores, ids = index.neighbours_without_self(
        index.load(run), queries, np.array([row], dtype=np.int64), k
    )
    return [
        {"rank": r + 1, "item_id": str(emb.item_ids[i]), "score": float(s)}
        for r, (s, i) in enumerate(zip(scores[0], ids[0], strict=True))
        if i >= 0
    ]


def _cold_item(run: Path, item_id: str, k: int) -> list[dict]:
    import pyarrow.parquet as pq

    verify(run, hashed={"item_recs.parquet"})
    table = pq.read_table(run / "item_recs.parquet", filters=[("item_id", "=", item_id)])
    if table.num_rows == 0:
        raise UsageError(f"item '{item_id}' is not in the published model ({run.name})")
    rows = sorted(table.to_pylist(), key=lambda r: r["rank"])[:k]
    return [
        {"rank": r["rank"], "item_id": r["neighbor_id"], "score": r["score"], "source": r["source"]}
        for r in rows
    ]


def recommend(data_dir: Path, user_id: str, k: int) -> list[dict]:
    """The user's exported recommendations from the published run."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    run = current_run(data_dir)
    verify(run, hashed={"user_recs.parquet"})
    table = pq.read_table(run / "user_recs.parquet", filters=[("user_id", "=", user_id)])
    if table.num_rows == 0:
        raise UsageError(f"user '{user_id}' has no recommendations in {run.name}")
    table = table.sort_by("rank").filter(pc.less_equal(table.sort_by("rank")["rank"], k))
    return table.select(["rank", "item_id", "score", "source"]).to_pylist()
