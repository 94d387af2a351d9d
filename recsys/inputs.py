"""Resolving an events argument (file, glob, directory or URL) and fingerprinting it."""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path

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


def file_state(name: str) -> tuple[str, int | None]:
    """One input file's fingerprint and size in bytes (a URL: its text, size unknown)."""
    if is_url(name):
        return f"url:{name}", None
    return fingerprint([name]), Path(name).stat().st_size


def prefix_fingerprint(name: str, size: int) -> str:
    """`fingerprint([name])` of the file as it was when it held only its first `size` bytes:
    equal to the fingerprint registered then iff the file has only grown since (appended)."""
    digest = hashlib.sha256()
    digest.update(Path(name).name.encode())
    left = size
    with open(name, "rb") as handle:
        while left > 0 and (chunk := handle.read(min(1 << 20, left))):
            digest.update(chunk)
            left -= len(chunk)
    return "sha256:" + digest.hexdigest()
