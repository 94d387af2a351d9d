"""Compare the published files of two runs: `python bench/compare_runs.py BEFORE AFTER`.

Each argument is a run folder or a data directory (its `published/current` is used). Model
and recommendation files must be identical to the byte; reports that carry run ids, clocks,
paths or package versions are compared after removing exactly those. An older manifest is
read through the store's migration first (recsys.model.store.read_manifest), so the config
keys that moved since it was written are compared where they live now.

Prints one line per file and exits 1 if any file differs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from recsys.layout import (
    CONTEXT_VECTORS,
    DIAGNOSTICS,
    EMBEDDING_MAP,
    EXTRACT_REPORT,
    INDEX_FILE,
    INDEX_INFO,
    ITEM_RECS,
    METRICS,
    QUALITY_PROFILE,
    QUALITY_REPORT,
    RUN_REPORT,
    USER_RECS,
    VECTORS,
    VOCAB,
    current_link,
)
from recsys.model.store import read_manifest

IDENTICAL = (
    VECTORS,
    CONTEXT_VECTORS,
    VOCAB,
    INDEX_FILE,
    INDEX_INFO,
    ITEM_RECS,
    USER_RECS,
    DIAGNOSTICS,
    EMBEDDING_MAP,
)
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def run_folder(arg: str) -> Path:
    path = Path(arg)
    return current_link(path).resolve() if current_link(path).exists() else path


def _drop(tree: dict, *dotted: str) -> dict:
    """`tree` without the given dotted keys (missing ones ignored)."""
    for key in dotted:
        *parents, last = key.split(".")
        node = tree
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(last, None)
    return tree


def _json(run: Path, name: str) -> dict:
    return json.loads((run / name).read_text())


def extract_report(run: Path) -> dict:
    # seconds and the future bound follow the clock, the source path the data dir, the cache
    # key the code (it hashes the extract modules and SQL files).
    return _drop(
        _json(run, EXTRACT_REPORT),
        "seconds",
        "details.source",
        "details.future_bound",
        "details.cache",
        "details.extract_seconds_when_cached",
    )


def metrics(run: Path) -> dict:
    return _drop(_json(run, METRICS), "evaluated_at", "champion.run_id")


def profile(run: Path) -> dict:
    return _drop(_json(run, QUALITY_PROFILE), "run_id", "created_at")


def text(run: Path, name: str) -> str:
    return (run / name).read_text()


def manifest(run: Path) -> dict:
    tree = read_manifest(run)
    for key in ("run_id", "model_run", "created_at", "versions", "schema_version"):
        tree.pop(key, None)
    tree["input"].pop("source", None)  # a path in the data dir
    for stage in tree["stages"].values():
        stage.pop("seconds", None)
    _drop(tree, "export.shard workers", "export.index build seconds", "index.build_seconds")
    # Reports carry run ids and clocks (compared above); the model files' hashes must agree.
    tree["files"] = {name: meta for name, meta in tree["files"].items() if name in IDENTICAL}
    return tree


NORMALISED = {
    EXTRACT_REPORT: extract_report,
    METRICS: metrics,
    QUALITY_PROFILE: profile,
    QUALITY_REPORT: lambda run: text(run, QUALITY_REPORT),
    RUN_REPORT: lambda run: text(run, RUN_REPORT),
    "manifest.json": manifest,
}


def _scrub(value):
    """`value` with run ids (e.g. the champion's, in a gate rule's note) replaced."""
    if isinstance(value, str):
        return RUN_ID.sub("<run>", value)
    return json.loads(RUN_ID.sub("<run>", json.dumps(value)))


def compare(before: Path, after: Path) -> list[tuple[str, str]]:
    """(file, verdict) for every compared file; a verdict starting with DIFF is a failure."""
    rows = []
    for name in IDENTICAL:
        same = (before / name).read_bytes() == (after / name).read_bytes()
        rows.append((name, "identical bytes" if same else "DIFF (bytes)"))
    for name, read in NORMALISED.items():
        a, b = _scrub(read(before)), _scrub(read(after))
        if a == b:
            rows.append((name, "equal without run ids, clocks, paths and versions"))
        else:
            rows.append((name, f"DIFF: {_first_difference(a, b)}"))
    return rows


def _first_difference(a, b, where: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys(), key=str):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{where}.{key}")
    if isinstance(a, str) and isinstance(b, str):
        at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        at = min(len(a), len(b)) if at is None else at
        return f"{where or 'text'} at char {at}: {a[at : at + 60]!r} vs {b[at : at + 60]!r}"
    return f"{where or 'value'}: {a!r} vs {b!r}"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    before, after = (run_folder(a) for a in argv)
    print(f"before {before}\nafter  {after}\n")
    rows = compare(before, after)
    width = max(len(name) for name, _ in rows)
    for name, verdict in rows:
        print(f"{name:<{width}}  {verdict}")
    print("\nnot compared: data_docs/ (GX stamps each validation with its time)")
    return 1 if any(v.startswith("DIFF") for _, v in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
