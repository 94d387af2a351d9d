"""Reuse of an earlier extraction of the same input: a content-addressed stage cache.

Prefect's task result cache would hand back the old StageReport, whose paths point into the
*old* run's work directory (deleted after publishing). Instead the extract stage's outputs
(stage.duckdb, corpus.txt, extract.json) are kept under DATA_DIR/cache/extract/<key>/ and
copied into the new run's work directory on a hit. The key covers everything the result
depends on: the sha256 of the input files' contents, the extract config (with its sane-time
bounds), and the code (the extract SQL, this package's modules, the DuckDB version). The
one input that is not in the key is the clock (rows beyond now + tolerance are dropped), so
an extraction is stored only when no row was cut by that bound, and reused only while none
would be. URL inputs have no content fingerprint and are never cached.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime
from importlib import resources
from pathlib import Path

import duckdb

from recsys import inputs
from recsys.config import ExtractConfig
from recsys.inputs import EventsInput
from recsys.layout import CORPUS, EXTRACT_REPORT, STAGE_DB, RunPaths, extract_cache_dir
from recsys.stage import StageReport

FILES = (STAGE_DB, CORPUS, EXTRACT_REPORT)


def cache_dir(data_dir: Path) -> Path:
    return extract_cache_dir(data_dir)


def _code_version() -> bytes:
    """The extract SQL and this package's source: an extraction by other code is a miss."""
    digest = hashlib.sha256(duckdb.__version__.encode())
    sql = resources.files("recsys.sql").joinpath("extract")
    for entry in sorted(sql.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            digest.update(entry.read_bytes())
    for path in [*sorted(Path(__file__).parent.glob("*.py")), Path(inputs.__file__)]:
        digest.update(path.read_bytes())
    return digest.digest()


def cache_key(source: EventsInput, cfg: ExtractConfig) -> str | None:
    """Key of an extraction of `source` with these settings; None if it cannot be cached."""
    if not source.fingerprint.startswith("sha256:"):
        return None
    digest = hashlib.sha256(f"{source.fingerprint}|{source.format}|".encode())
    # memory_limit and threads change how fast DuckDB runs, not what it produces.
    digest.update(cfg.model_dump_json(exclude={"memory_limit", "threads"}).encode())
    digest.update(_code_version())
    return digest.hexdigest()[:40]


def _within(report: StageReport, bound: datetime) -> bool:
    try:
        return datetime.fromisoformat(report.details["max_input_ts"]) <= bound
    except (KeyError, TypeError, ValueError):  # no rows, or a year Python cannot hold (> 9999)
        return False


def restore(key: str, paths: RunPaths, bound: datetime) -> StageReport | None:
    """Copy the cached stage into `paths` and return its report, or None on a miss.

    The caller writes the run's extract.json (with this run's seconds)."""
    entry = cache_dir(paths.data_dir) / key
    if not all((entry / name).is_file() for name in FILES):
        return None
    report = StageReport.model_validate_json((entry / EXTRACT_REPORT).read_text())
    if not _within(report, bound):
        return None  # a row would now be cut (or kept) differently by the future bound
    paths.ensure()
    shutil.copyfile(entry / STAGE_DB, paths.stage_db)
    shutil.copyfile(entry / CORPUS, paths.corpus)
    report.details["cache"] = f"hit {key[:12]}"
    entry.touch()  # most recently used: pruned last
    return report


def store(key: str, paths: RunPaths, report: StageReport, keep: int) -> bool:
    """Keep this run's extraction under `key` (at most `keep` entries); True if stored."""
    bound = report.details.get("future_bound")
    if keep < 1 or bound is None or not _within(report, datetime.fromisoformat(bound)):
        return False
    root = cache_dir(paths.data_dir)
    entry, tmp = root / key, root / f".{key}.{paths.run_id}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paths.stage_db, tmp / STAGE_DB)
    shutil.copyfile(paths.corpus, tmp / CORPUS)
    (tmp / EXTRACT_REPORT).write_text(report.model_dump_json())
    try:
        tmp.rename(entry)  # atomic: a reader never sees half an entry
    except OSError:  # another run stored the same key first
        shutil.rmtree(tmp, ignore_errors=True)
    entries = sorted(
        (p for p in root.iterdir() if not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return True
