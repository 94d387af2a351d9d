"""Stop signals (SIGTERM, SIGINT) seen while a flow runs, so no retry and no exit code hides them.

Prefect turns SIGTERM into a `TerminationSignal` raised in the main thread, and Python turns
SIGINT into `KeyboardInterrupt`. When either lands while DuckDB runs a query, DuckDB catches it
and raises its own "Query interrupted" error instead: a stage then looked like an I/O hiccup
(retried, and the run published and exited 0), or the flow ended as an ordinary failure. The
handler installed here notes the signal first and then hands it on unchanged.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

_seen: int | None = None
_in_flow = False


def watch() -> None:
    """Note SIGTERM and SIGINT before the handler in place (Prefect's, Python's) gets them.

    Call it from the main thread once the flow engine has installed its handlers (at the top
    of a flow); elsewhere it does nothing."""
    global _in_flow
    _in_flow = True
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous = signal.getsignal(sig)
            # An ignored signal stays ignored (a background job's SIGINT, nohup's SIGHUP).
            if previous != signal.SIG_IGN and not getattr(previous, "recsys_noting", False):
                signal.signal(sig, _noting(previous))
        except ValueError:  # not the main thread
            return


def _noting(previous):
    def handler(signum: int, frame: FrameType | None) -> None:
        global _seen
        _seen = signum
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    handler.recsys_noting = True
    return handler


class Stopped(BaseException):
    """SIGTERM outside a flow's own handling (BaseException: no `except Exception` of a
    stage or library swallows it)."""


def install() -> None:
    """Make SIGTERM raise `Stopped` in the main thread instead of Python's default, which
    ends the process without a word or a rollback. Prefect's flow engine hands a SIGTERM
    back to the handler it found when the flow started and sends it again: with the
    default, a run stopped in training died by the signal before the CLI said why (stopped
    in the export it did say so). SIGINT still raises `KeyboardInterrupt`, but is noted
    first: typer turns that exception into a plain return code, and a Ctrl-C before the
    flow started exited 0. Call it once, first thing, from the main thread."""
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _stop)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _stop)
    except ValueError:  # not the main thread
        return


def _stop(signum: int, frame: FrameType | None) -> None:
    global _seen
    _seen = signum
    raise KeyboardInterrupt if signum == signal.SIGINT else Stopped(signum)


def in_flow() -> bool:
    """Whether a flow started in this process (so a stop rolled a run back)."""
    return _in_flow


def stopped() -> int | None:
    """The stop signal received since the process started, or None."""
    return _seen


def exit_code() -> int | None:
    """The shell's exit code for the stop signal received (128 + its number), or None."""
    return None if _seen is None else 128 + _seen
