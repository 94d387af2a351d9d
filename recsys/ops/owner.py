"""Which run folders belong to a live process: a lock file held for the run's lifetime.

A run killed with SIGKILL (or the machine losing power) runs no rollback, so its
`work/<id>/` (stage database, corpus, half-written run) stayed forever. Each run holds an
exclusive `flock` on `work/<id>/owner.lock` while it runs; the kernel drops the lock when
the process dies, however it dies. A later run sweeps a folder only when it can take that
lock itself: the owner is then provably dead. A folder without the file (a run of an older
version, or one that had not written it yet) or whose owner ran on another host proves
nothing and is left alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

from recsys.layout import OWNER

_held: dict[str, int] = {}  # work dir -> the open, locked owner file


def claim(work_dir: Path) -> None:
    """Mark `work_dir` as this process's for as long as it lives (or until `release`).

    The lock is taken on a private name and then renamed into place, so `owner.lock` is
    never seen unlocked while its owner lives."""
    work_dir.mkdir(parents=True, exist_ok=True)
    key = str(work_dir)
    if key in _held:
        return
    tmp = work_dir / f".{OWNER}.{os.getpid()}"
    fd = os.open(tmp, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
    os.rename(tmp, work_dir / OWNER)
    _held[key] = fd


def release(work_dir: Path) -> None:
    """Give up the claim (the run ended; its folder is published, rolled back or gone)."""
    fd = _held.pop(str(work_dir), None)
    if fd is not None:
        os.close(fd)


def is_dead(work_dir: Path) -> bool:
    """True only if the run that owned `work_dir` has provably ended: its lock file exists,
    names this host, and its lock can be taken."""
    lock = work_dir / OWNER
    try:
        owner = json.loads(lock.read_text())
        fd = os.open(lock, os.O_RDONLY)
    except (OSError, ValueError):
        return False
    try:
        if owner.get("host") != socket.gethostname():
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    finally:
        os.close(fd)  # also drops the lock taken to test it
