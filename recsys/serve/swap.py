"""Hot swap: follow `published/current`, verify and load a new run beside the served one,
switch with one reference assignment, free the old run once no request holds it.

A background thread reads the link (`os.readlink`, one syscall) every `poll_seconds`. When
it points somewhere new, the run there is verified against its manifest and loaded
(recsys/serve/model.py) while the old model keeps answering; then `holder.model` is
rebound. A request takes the model once (`holder.model`) and answers from it, so it never
mixes two runs, and every request that starts after the switch gets the new run: a client
never sees a `run_id` older than one it was already answered with.

The old model is kept in `retired` until only the holder refers to it, and released by the
watcher thread, not by the request thread that happens to drop the last reference (freeing
a FAISS index and mapped files takes milliseconds a request should not pay).

A run that does not verify or load is refused: logged once, counted in /metrics, and not
retried until its folder changes (a run copied in place is loaded once the copy is
complete and `current` still points at it). The served model is not touched.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from recsys.layout import current_link
from recsys.serve.metrics import Metrics
from recsys.serve.model import ServedModel, load_run

log = logging.getLogger("recsys.serve")


def folder_state(folder: Path) -> tuple:
    """What changes when a run folder is written to: names, sizes and mtimes of its files."""
    try:
        return tuple(
            sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(folder))
        )
    except OSError:
        return ()


class ModelHolder:
    """The served model and the watcher that swaps it.

    Parameters
    ----------
    data_dir
        The data directory whose `published/current` is served.
    metrics
        Where swaps and refusals are counted.
    poll_seconds
        How often the link is read.
    loader
        Loads a run folder (default `load_run`); tests pass a slower or failing one.
    """

    def __init__(
        self,
        data_dir: Path,
        metrics: Metrics,
        poll_seconds: float = 1.0,
        loader: Callable[[Path], ServedModel] = load_run,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.metrics, self.poll_seconds, self.loader = metrics, poll_seconds, loader
        self.model: ServedModel | None = None
        self.retired: list[ServedModel] = []
        self.refused: dict[str, tuple] = {}  # link target -> folder state when refused
        self._target: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one poll at a time (the thread, or a test's call)

    def poll(self) -> bool:
        """Load the run `current` points at if it is new; True when a swap happened."""
        with self._lock:
            self._release_retired()
            link = current_link(self.data_dir)
            try:
                target = os.readlink(link)
            except OSError:
                return False  # nothing published (yet), or not a link: keep what we serve
            if target == self._target:
                return False
            try:
                folder = (link.parent / target).resolve()
                state = folder_state(folder)
            except (OSError, RuntimeError) as exc:  # a symlink loop (3.11: RuntimeError)
                state = ("unreadable", str(exc))
                if self.refused.get(target) != state:
                    self._refuse(target, state, Path(target).name, exc)
                return False
            if self.refused.get(target) == state:
                return False
            return self._swap(target, folder, state)

    def _refuse(self, target: str, state: tuple, name: str, exc: Exception) -> None:
        """Log a run that cannot be served once, count it; it is not retried until its
        folder changes."""
        self.refused[target] = state
        self.metrics.refused.inc()
        serving = self.model.run_id if self.model else "nothing"
        log.error("recsys serve: refused %s (%s); still serving %s", name, exc, serving)

    def _swap(self, target: str, folder: Path, state: tuple) -> bool:
        start = time.perf_counter()
        try:
            model = self.loader(folder)
        except Exception as exc:
            self._refuse(target, state, folder.name, exc)
            return False
        self.metrics.load_seconds.observe(time.perf_counter() - start)
        old = self.model
        if old is None:
            gc.collect()  # the start-up garbage, before it is frozen below
        self.model = model  # the switch: one reference assignment
        self._target = target
        self.refused.pop(target, None)
        self.metrics.served(model.run_id, old.run_id if old else None, model.n_items)
        if old is not None:
            self.retired.append(old)
        # Everything alive now (the imports, the app, the loaded model) lives as long as the
        # process: move it out of the collector's sight. A full collection walked ~120k
        # such objects and stopped every request for ~90 ms, a few times a minute at
        # 1,000 req/s (measured p99 45-111 ms for GET /similar; the model itself is numpy
        # arrays the collector does not walk). Garbage of the old run is freed by reference
        # counts, which freezing does not stop.
        gc.freeze()
        log.info(
            "recsys serve: serving run %s (%d items, loaded in %.2f s)",
            model.run_id,
            model.n_items,
            time.perf_counter() - start,
        )
        return True

    def _release_retired(self) -> None:
        # getrefcount: the list's reference + the argument; more means a request holds it.
        self.retired = [m for m in self.retired if sys.getrefcount(m) > 3]

    def start(self) -> None:
        """Start the watcher thread (its first poll loads the current run)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="recsys-serve-swap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # a bug here must not end the watcher: the old run serves on
                log.exception("recsys serve: watching %s failed", current_link(self.data_dir))
            self._stop.wait(self.poll_seconds)
