"""Great Expectations in a process of its own, started as the run starts.

Importing GX 1.x costs ~6 s of one core on this machine (it loads its Spark, SQL and pandas
back ends, altair and scipy.stats): more than everything else a small run does before its
quality stage, and on the critical path of every run. A thread cannot hide it (imports
hold the GIL: GX beside the flow's other imports took 8.0 s, one after the other 8.0 s);
a second process can. `start()` spawns one worker that imports GX on the other core while
this process imports Prefect, creates the flow run and extracts; the quality stage
(tasks/quality) then hands it the one-row aggregate profiles (plain dicts) and gets the
verdicts back. The flow process never imports GX.

The worker is a plain `python -c` subprocess, not a multiprocessing child: it needs no
fork of the flow process (Prefect's threads) and no resource tracker (whose exit-time
warnings would follow the one error line of a failed run). Requests and answers are
pickled over a pair of pipes. An exit handler ends it (a run that fails before its quality
stage does not wait for the import), and a watcher thread in it ends it once the parent is
gone, so a killed run leaves no process behind. If it dies, the next call starts another
(the task's retry).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from recsys.config import PipelineConfig
from recsys.errors import RecsysError

_lock = threading.Lock()  # one request at a time on the pipes
_worker: tuple[subprocess.Popen, Connection, Connection] | None = None  # (process, send, recv)


def start() -> None:
    """Start the worker (once per process) and let it import GX in the background."""
    global _worker
    with _lock:
        if _worker is not None and _worker[0].poll() is None:
            return
        child_reads, parent_writes = os.pipe()
        parent_reads, child_writes = os.pipe()
        # A Ctrl-C reaches the whole process group: the parent answers it (and ends the
        # worker); the worker itself must not print a KeyboardInterrupt traceback.
        code = (
            "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "from recsys.expectations.worker import serve; serve(%d, %d, %d)"
        )
        process = subprocess.Popen(
            [sys.executable, "-c", code % (child_reads, child_writes, os.getpid())],
            pass_fds=(child_reads, child_writes),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # GX's prints never reach the run's output
        )
        os.close(child_reads)
        os.close(child_writes)
        _worker = (
            process,
            Connection(parent_writes, readable=False),
            Connection(parent_reads, writable=False),
        )


@atexit.register
def stop() -> None:
    """End the worker (an exit handler: nothing waits for a GX import still under way)."""
    global _worker
    with _lock:
        if _worker is not None:
            _worker[0].kill()
            _worker[0].wait()
            _worker[1].close()
            _worker[2].close()
            _worker = None


def validate(
    cfg: PipelineConfig, frames: dict[str, dict], docs_dir: Path | None
) -> tuple[list[dict], Path | None]:
    """Every checkpoint's results for `frames` (checkpoint name -> its one-row profile;
    the drift frame only when there is a baseline), in suite order, and the Data Docs
    index when `docs_dir` is given. UsageError for a `quality.severity` key naming no
    rule (raised in the worker, re-raised here)."""
    global _worker
    start()
    with _lock:
        process, send, recv = _worker
        try:
            send.send((cfg, frames, docs_dir))
            status, value = recv.recv()
        except (EOFError, OSError) as exc:
            _worker = None  # the task's retry starts a new worker
            process.kill()
            code = process.wait()
            raise RecsysError(
                f"quality: the Great Expectations process died (exit {code})"
            ) from exc
    if status == "error":
        raise value
    return value
