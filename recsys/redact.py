"""What may be shown of a URL or a library's error message: secrets and file content never.

A presigned events URL carries its token in the query string (or user:password before the
host), a webhook URL its secret in the path; a DuckDB error can quote a line of the file it
read (`/etc/shadow` given as an attributes file would show its root line). Every message,
log line, report and manifest takes URLs and library errors through here.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()]+")
# Quoted text in a message (an apostrophe inside a word, as in "DuckDB's", is not a quote).
_QUOTED = re.compile(r"(?<!\w)'[^']*'(?!\w)|(?<!\w)\"[^\"]*\"(?!\w)")
# DuckDB lines that echo input rows or point into them.
_ECHO = ("Original Line", "Possible Solution", "LINE ", "^", "Candidate bindings")
# DuckDB's dump of the reader's settings after a CSV error ("delimiter = , (Auto-Detected)").
_SETTING = re.compile(r"^[a-z_]+ = ")
REDACTED = "<redacted>"
# DuckDB extensions its errors name in quotes (not file content).
_EXTENSIONS = {"httpfs", "json", "parquet", "icu", "aws", "azure"}


def url(text: str, *, keep_path: bool = True) -> str:
    """`text` without user:password, query string and fragment (and path, if not
    `keep_path`: a webhook's secret). Not a URL: returned as it is."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return REDACTED
    if not parts.scheme or not parts.netloc:
        return text
    secret = parts.query or parts.fragment or parts.username is not None or parts.password
    if keep_path and not secret:
        return text  # nothing to hide (also: an already redacted URL stays as it is)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    if parts.username is not None or parts.password is not None:
        host = f"{REDACTED}@{host}"
    path = parts.path if keep_path else ("/" + REDACTED if parts.path not in ("", "/") else "")
    query = REDACTED if parts.query else ""
    return urlunsplit((parts.scheme, host, path, query, REDACTED if parts.fragment else ""))


def text(message: str, *, keep_path: bool = True) -> str:
    """`message` with every URL in it redacted (`url`)."""
    return _URL.sub(lambda m: url(m.group(0), keep_path=keep_path), message)


def db_error(exc: BaseException, keep: tuple[str, ...] = ()) -> str:
    """A DuckDB (or other library) error as one line without file content.

    Lines that echo an input row are dropped, the remaining lines are joined (a reason
    DuckDB puts on a later line, e.g. why a URL could not be read, is kept), quoted text
    is replaced unless it is one of `keep` (names the caller gave: the file, a column),
    and URLs are redacted."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kept: list[str] = []
    for line in lines:
        if line.startswith("For more info"):
            reason = re.search(r"\((ERROR [^)]*)\)\s*$", line)
            if reason:
                kept.append(reason.group(1))
            continue
        if not line.startswith(_ECHO) and not _SETTING.match(line):
            kept.append(line.rstrip(":"))
    joined = text(": ".join(kept) or type(exc).__name__)
    keep_set = {f"'{k}'" for k in keep} | {f'"{k}"' for k in keep}

    def shown_quote(match: re.Match[str]) -> str:
        inner = match.group(0)[1:-1].lstrip("'")
        safe = match.group(0) in keep_set or _URL.match(inner) or inner in _EXTENSIONS
        return match.group(0) if safe else "'…'"

    shown = _QUOTED.sub(shown_quote, joined)
    return shown if len(shown) <= 400 else shown[:397] + "..."
