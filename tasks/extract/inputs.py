"""Resolving an events argument (file, glob, directory or URL) and fingerprinting it."""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel

from recsys.errors import UsageError

_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".inter": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_URL_SCHEMES = ("s3://", "gs://", "gcs://", "http://", "https://", "az://", "abfss://", "r2://")


class EventsInput(BaseModel):
    """A resolved events source: what DuckDB reads, its format and a content fingerprint."""

    source: str
    format: str
    files: list[str]
    fingerprint: str


def is_url(path: str) -> bool:
    return path.startswith(_URL_SCHEMES)


def detect_format(path: str, configured: str = "auto") -> str:
    if configured != "auto":
        return configured
    name = path.lower()
    for suffix in (".gz", ".zst", ".bz2"):
        name = name.removesuffix(suffix)
    for ext, fmt in _FORMATS.items():
        if name.endswith(ext):
            return fmt
    raise UsageError(
        f"cannot tell the format of '{path}' from its name; "
        "set extract.input_format to csv, parquet or json"
    )


def resolve(events: str, configured_format: str = "auto") -> EventsInput:
    """Check the events argument exists and fingerprint it; raise UsageError otherwise."""
    if events.startswith("file://"):
        events = events.removeprefix("file://")
    if is_url(events):
        fmt = detect_format(events, configured_format)
        return EventsInput(source=events, format=fmt, files=[events], fingerprint=f"url:{events}")
    path = Path(events)
    if path.is_dir():
        files = sorted(
            str(p) for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
        )
        formats = {detect_format(f, configured_format) for f in files}
        if not files:
            raise UsageError(f"events directory '{events}' holds no files")
        if len(formats) > 1:
            raise UsageError(
                f"events directory '{events}' mixes formats {sorted(formats)}; "
                "point --events at one format (a glob such as DIR/*.parquet)"
            )
        fmt = formats.pop()
    else:
        files = sorted(glob.glob(events, recursive=True)) if glob.has_magic(events) else [events]
        if not files or not Path(files[0]).exists():
            raise UsageError(f"events file not found: '{events}'")
        fmt = detect_format(files[0], configured_format)
    return EventsInput(source=events, format=fmt, files=files, fingerprint=fingerprint(files))


def fingerprint(files: list[str]) -> str:
    """sha256 over the names and contents of the input files (content, not mtimes)."""
    digest = hashlib.sha256()
    for name in files:
        digest.update(Path(name).name.encode())
        with open(name, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class FileState(NamedTuple):
    """One input file as the warehouse registers it."""

    fingerprint: str  # what `fingerprint([name])` gives (a URL: its text)
    size: int | None  # bytes (a URL: unknown)
    prefix: str | None  # the fingerprint of its first `prefix_bytes` bytes, when asked


def file_state(name: str, prefix_bytes: int | None = None) -> FileState:
    """Fingerprint and size of one file, in one read; with `prefix_bytes`, also the
    fingerprint the file had when it held only that many bytes: equal to the one registered
    then iff the file has only grown since (an appended log)."""
    if is_url(name):
        return FileState(f"url:{name}", None, None)
    digest = hashlib.sha256()
    digest.update(Path(name).name.encode())
    prefix, done = None, 0
    with open(name, "rb") as handle:
        while True:
            if prefix_bytes is not None and done == prefix_bytes:
                prefix = "sha256:" + digest.hexdigest()
            want = 1 << 20
            if prefix_bytes is not None and done < prefix_bytes:
                want = min(want, prefix_bytes - done)  # stop a chunk exactly at the prefix
            chunk = handle.read(want)
            if not chunk:
                break
            digest.update(chunk)
            done += len(chunk)
    return FileState("sha256:" + digest.hexdigest(), done, prefix)
