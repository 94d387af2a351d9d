"""How a failed command is reported: one line on stderr and the contract's exit code
(2 usage or configuration, 3 data quality, 4 gate, 1 anything else)."""

from __future__ import annotations

import errno
import re

import click
import typer

from recsys import redact
from recsys.errors import RecsysError

# typer vendors its own click (typer._click) in newer versions; both are caught.
_EXIT = (click.exceptions.Exit, typer.Exit)
_ABORT = (click.exceptions.Abort, typer.Abort)
_CLICK = (click.ClickException, typer.TyperException)


def one_line(exc: BaseException) -> str:
    """An unexpected error as one line: no traceback, no file content, no URL secrets."""
    if type(exc).__module__.startswith(("duckdb", "_duckdb")):
        return redact.db_error(exc)
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return redact.text(lines[0] if lines else "")


def failure(exc: BaseException) -> int:
    """The exit code of a command that raised `exc`, its one line printed."""
    if isinstance(exc, RecsysError):
        typer.echo(f"error: {redact.text(str(exc))}", err=True)
        return exc.exit_code
    if isinstance(exc, _EXIT):
        return exc.exit_code
    if isinstance(exc, _ABORT):
        typer.echo("error: aborted", err=True)
        return 1
    if isinstance(exc, _CLICK):
        usage = getattr(exc, "ctx", None) is not None and exc.exit_code == 2
        where = f" (see '{exc.ctx.command_path} --help')" if usage else ""
        typer.echo(f"error: {exc.format_message()}{where}", err=True)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        typer.echo("error: interrupted", err=True)
        return 130
    if not isinstance(exc, Exception):
        raise exc
    if _disk_full(exc):
        typer.echo(
            "error: no space left on the disk (the data dir's or the temp dir's); "
            f"nothing was published ({type(exc).__name__})",
            err=True,
        )
        return 1
    typer.echo(f"error: {type(exc).__name__}: {one_line(exc)}", err=True)
    return 1


def _disk_full(exc: BaseException) -> bool:
    """A write that ran out of disk, however the library reports it (errno ENOSPC, DuckDB's
    "No space left on device", numpy's short write "N requested and M written")."""
    text = str(exc)
    return (
        getattr(exc, "errno", None) == errno.ENOSPC
        or "No space left on device" in text
        or re.search(r"\d+ requested and \d+ written", text) is not None
    )
