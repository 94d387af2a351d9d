"""A stop signal that arrives while `recsys serve` still imports and loads (~2 s before
uvicorn's own handlers are in place) is a graceful stop too: exit 0, as a service manager
expects, not death by the signal (143). Imports nothing heavy, so the CLI installs it
first."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class StopServing(KeyboardInterrupt):
    """A stop signal before the server's own handlers were installed. A KeyboardInterrupt:
    the event loop re-raises those from a callback, where it logs and swallows any other
    exception (a stop that landed in one, as uvicorn started, left the server running)."""


def _stop(signum: int, frame: object) -> None:
    raise StopServing


@contextmanager
def stoppable() -> Iterator[None]:
    """Within the block SIGINT/SIGTERM raise StopServing (uvicorn takes them over while it
    runs and gives them back when it stops)."""
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _stop)
    yield
