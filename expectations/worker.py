"""The Great Expectations worker process (started by recsys/expectations/process.py): an
entry point of its own, so GX is imported here and only here, after the watcher that ends
the worker once its parent is gone (a killed run's worker would otherwise live on through
the ~6 s import)."""

from __future__ import annotations

import os
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from recsys.config import PipelineConfig
from recsys.errors import RecsysError


def serve(read_fd: int, write_fd: int, parent: int) -> None:
    """The worker's loop: import GX, then answer `validate` requests until the pipe closes."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    recv, send = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    import great_expectations  # noqa: F401  (the slow part, done before it is needed)

    while True:
        try:
            request = recv.recv()
        except EOFError:
            return  # the parent closed its end
        try:
            answer = ("ok", _validate(*request))
        except Exception as exc:  # the caller re-raises it: verdict or usage error
            answer = ("error", exc)
        try:
            send.send(answer)
        except Exception as exc:  # an exception that does not pickle
            send.send(("error", RecsysError(f"quality: {type(exc).__name__}: {exc}")))


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _validate(
    cfg: PipelineConfig, frames: dict[str, dict], docs_dir: Path | None
) -> tuple[list[dict], Path | None]:
    from recsys.expectations.checkpoint import Checkpoints
    from recsys.expectations.suites import check_severity, suites

    check_severity(cfg)
    expectations = suites(cfg)
    checks = Checkpoints(docs_dir)
    results = []
    for name, frame in frames.items():
        results += checks.run(name, expectations[name], frame)
    return results, checks.build_docs()
