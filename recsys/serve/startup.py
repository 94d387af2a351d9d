"""A stop signal that arrives while `recsys serve` still imports and loads (~2 s before
uvicorn's own handlers are in place) is a graceful stop too: exit 0, as a service manager
expects, not death by the signal (143). Imports nothing heavy, so the CLI installs it
first."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class StopServing(KeyboardInterrupt):
    """A stop signal before the server's own handlers were installed. A KeyboardInterrupt:
    the event loop re-raises those from a callback, where it logs and swallows any other
    exception (a stop that landed in one, as uvicorn started, left the server running)."""


_requested: list[int] = []  # the stop signals received before uvicorn took them over


def _stop(signum: int, frame: object) -> None:
    _requested.append(signum)  # first: the raise below can be lost (see `stoppable`)
    raise StopServing


def stop_requested() -> bool:
    """Did a stop signal arrive before the server's own handlers were installed? A server
    checks once its handlers are in place, so no signal falls between the two."""
    return bool(_requested)


def _unraisable(hook):
    def quiet(unraisable) -> None:
        if not isinstance(unraisable.exc_value, StopServing):
            hook(unraisable)

    return quiet


@contextmanager
def stoppable() -> Iterator[None]:
    """Within the block SIGINT/SIGTERM raise StopServing (uvicorn takes them over while it
    runs and gives them back when it stops).

    A signal handled inside a weakref callback or a `__del__` raises where Python can only
    print the exception and go on ("Exception ignored in ..."): the stop is then kept in
    `_requested` for the server to honour, and that print is left out."""
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _stop)
    hook, sys.unraisablehook = sys.unraisablehook, _unraisable(sys.unraisablehook)
    try:
        yield
    finally:
        sys.unraisablehook = hook
