"""Run a function in a spawned process that is killed when it overruns its time budget.

Prefect's `timeout_seconds` raises in the calling thread, which cannot stop gensim: its
training loop runs in C threads that never return to Python until the epoch ends (or never,
for a huge corpus). A separate process can always be stopped, so long stages run here.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from typing import Any

from recsys.errors import StageTimeout

# spawn, not fork: the parent holds Prefect's threads and event loop, which fork would copy
# half-locked into the child.
_CTX = mp.get_context("spawn")


def _child(conn, fn: Callable[..., Any], args: tuple) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # sent back so the parent raises the same error
        try:
            conn.send(("error", exc))
        except Exception:  # an exception that does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def call_with_timeout(fn: Callable[..., Any], args: tuple, timeout: float, what: str) -> Any:
    """Return `fn(*args)` computed in a child process, or kill it after `timeout` seconds.

    Parameters
    ----------
    fn, args
        A module-level function and picklable arguments (the child imports them afresh).
    timeout
        Wall seconds, counted from the start of the child (including its imports).
    what
        Stage name for the error message.

    Raises
    ------
    StageTimeout
        The child was still running after `timeout` seconds; it has been killed.
    """
    receive, send = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(send, fn, args), name=f"recsys-{what}", daemon=True)
    started = time.monotonic()
    proc.start()
    send.close()  # the child holds the only writer: EOF on receive means it died
    try:
        if not receive.poll(timeout):
            raise StageTimeout(
                f"{what}: stopped after {timeout:g} s (ops.{what}_timeout_seconds); "
                "the process was killed, nothing was published"
            )
        try:
            status, value = receive.recv()
        except EOFError:
            proc.join(5)
            raise RuntimeError(
                f"{what}: worker process died (exit code {proc.exitcode}) after "
                f"{time.monotonic() - started:.0f} s, e.g. killed for memory"
            ) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receive.close()
    if status == "error":
        raise value
    return value
