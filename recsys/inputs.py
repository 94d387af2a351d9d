"""The events argument (file, glob, directory or URL): which files it names, their format and
a content fingerprint.

A kit module without Prefect or DuckDB, so the command line checks an events argument
before any flow starts. Only regular files are read: a FIFO or device (`/dev/zero`) would
block or never end. A directory is walked following symlinks, each real folder and file
once (a symlink cycle is not read over and over), and the marker files of Spark/Hadoop
writers (`_SUCCESS`, `_committed_*`, `.crc` checksums: names starting with `_` or `.`) are
not data. A path that exists is taken literally even if it holds glob characters; names
go to DuckDB glob-escaped (`duckdb_path`). A URL is shown and stored without its secrets
(`recsys.redact`).
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel

from recsys import redact
from recsys.errors import UsageError

# The longest user or item id a run accepts (quality rule raw_events.long_ids) and the
# server answers: a URL as an item id fits; anything longer is refused before it is
# published, so every published id can be asked for over HTTP.
MAX_ID_CHARS = 1024

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
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class EventsInput(BaseModel):
    """A resolved events source: what DuckDB reads, its format and a content fingerprint.

    `source` is the argument as it may be shown and stored (a URL redacted); `files` are
    the names to read (a URL with its token)."""

    source: str
    format: str
    files: list[str]
    fingerprint: str


def is_url(path: str) -> bool:
    return path.startswith(_URL_SCHEMES)


def shown(name: str) -> str:
    """A file name or URL as messages, logs and reports show it."""
    return redact.url(name) if is_url(name) else name


def url_fingerprint(name: str) -> str:
    """A URL's stand-in fingerprint: a hash of the whole URL (the token stays secret)."""
    return "url:" + hashlib.sha256(name.encode()).hexdigest()[:32]


def duckdb_path(name: str) -> str:
    """`name` for DuckDB's readers, which expand `*`, `?` and `[...]` in every path: each
    of those characters escaped as a one-character class."""
    if is_url(name):
        return name
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def detect_format(path: str, configured: str = "auto") -> str:
    if configured != "auto":
        return configured
    name = path.lower().split("?", 1)[0] if is_url(path) else path.lower()
    for suffix in (".gz", ".zst", ".bz2"):
        name = name.removesuffix(suffix)
    for ext, fmt in _FORMATS.items():
        if name.endswith(ext):
            return fmt
    raise UsageError(
        f"cannot tell the format of '{shown(path)}' from its name; "
        "set extract.input_format to csv, parquet or json"
    )


def _is_marker(name: str) -> bool:
    """Spark/Hadoop bookkeeping files: `_SUCCESS`, `_committed_*`, `.part-0.crc`, ..."""
    return name.startswith(("_", ".")) or name.endswith(".crc")


def _special(path: str, mode: int) -> UsageError:
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return UsageError(f"events path '{path}' is {kind}, not a regular file: it cannot be read")


def _walk(folder: str) -> list[str]:
    """Regular files under `folder`, following symlinks, each real file and folder once."""
    seen_dirs: set[str] = set()
    seen_files: set[str] = set()
    found: list[str] = []
    stack = [folder]
    while stack:
        here = stack.pop()
        real = os.path.realpath(here)
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError as exc:
            raise UsageError(f"events directory '{here}': {exc.strerror}") from exc
        for entry in reversed(entries):
            if _is_marker(entry.name):
                continue
            try:
                mode = os.stat(entry.path).st_mode
            except OSError:
                continue  # a dangling symlink names no data
            if stat.S_ISDIR(mode):
                stack.append(entry.path)
            elif not stat.S_ISREG(mode):
                raise _special(entry.path, mode)
            elif os.path.realpath(entry.path) not in seen_files:
                seen_files.add(os.path.realpath(entry.path))
                found.append(entry.path)
    return sorted(found)


def _globbed(pattern: str) -> list[str]:
    """Regular files matching `pattern`, each real file once (a `**` over a symlink cycle
    matches one file under many names)."""
    seen: set[str] = set()
    files = []
    for name in sorted(glob.glob(pattern, recursive=True)):
        if _is_marker(os.path.basename(name)):
            continue
        mode = os.stat(name).st_mode
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            raise _special(name, mode)
        real = os.path.realpath(name)
        if real not in seen:
            seen.add(real)
            files.append(name)
    return files


def find(events: str, configured_format: str = "auto") -> tuple[str, list[str]]:
    """The format and files an events argument names, without reading them.

    Raises
    ------
    UsageError
        Nothing found, a special file, mixed formats, or a format that cannot be told.
    """
    events = events.removeprefix("file://")
    if is_url(events):
        return detect_format(events, configured_format), [events]
    try:
        mode = os.stat(events).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(f"events path '{events}': {exc.strerror}") from exc
    if mode is not None and stat.S_ISDIR(mode):
        files = _walk(events)
        if not files:
            raise UsageError(f"events directory '{events}' holds no data files")
        return _one_format(f"events directory '{events}'", files, configured_format), files
    if mode is not None:
        if not stat.S_ISREG(mode):
            raise _special(events, mode)
        return detect_format(events, configured_format), [events]
    files = _globbed(events) if glob.has_magic(events) else []
    if not files:
        raise UsageError(f"events file not found: '{events}'")
    return _one_format(f"events glob '{events}'", files, configured_format), files


def _one_format(what: str, files: list[str], configured: str) -> str:
    """The one format of `files`: DuckDB reads a list with one reader, so a Parquet file
    among CSVs would be read as CSV text and fail as 'lacks column(s)'."""
    formats = {detect_format(f, configured) for f in files}
    if len(formats) > 1:
        raise UsageError(
            f"{what} mixes formats {sorted(formats)}; "
            "point --events at one format (a glob such as DIR/*.parquet)"
        )
    return formats.pop()


def resolve(events: str, configured_format: str = "auto") -> EventsInput:
    """Check the events argument names readable files and fingerprint them; UsageError
    otherwise."""
    fmt, files = find(events, configured_format)
    source = shown(events.removeprefix("file://"))
    if is_url(files[0]):
        return EventsInput(
            source=source, format=fmt, files=files, fingerprint=url_fingerprint(files[0])
        )
    return EventsInput(source=source, format=fmt, files=files, fingerprint=fingerprint(files))


def fingerprint(files: list[str]) -> str:
    """sha256 over the names and contents of the input files (content, not mtimes)."""
    digest = hashlib.sha256()
    for name in files:
        digest.update(Path(name).name.encode())
        try:
            with open(name, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except OSError as exc:
            raise UsageError(f"cannot read events file '{name}': {exc.strerror}") from exc
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
        return FileState(url_fingerprint(name), None, None)
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
