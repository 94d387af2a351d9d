"""Running the app: one uvicorn process on a socket bound first, a clean exit on SIGINT or
SIGTERM (in-flight requests finish, the watcher stops, exit status 0).

One process on purpose: FAISS and numpy release the GIL for their work, a model is loaded
once, and a hot swap is one reference assignment; several processes would
each load and swap on their own. uvicorn runs on uvloop and httptools (with a bound on a
request's head, `limits.bounded_head_protocol`).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from pathlib import Path

import uvicorn

from recsys.errors import RecsysError, UsageError
from recsys.model import index
from recsys.serve.app import create_app
from recsys.serve.limits import Limits, bounded_head_protocol
from recsys.serve.metrics import Metrics
from recsys.serve.startup import stop_requested
from recsys.serve.swap import ModelHolder


class CleanServer(uvicorn.Server):
    """uvicorn re-raises the signal that stopped it once it has shut down, so the process
    dies of it (status -15 or 130); a service manager expects a graceful stop to exit 0, so
    here the signal only asks for the shutdown."""

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        if stop_requested():  # a stop whose StopServing was lost before these handlers
            self.should_exit = True
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0: any free one). UsageError (exit 2) for an
    address that does not resolve, RecsysError (exit 1) when it cannot be had (the port is
    in use, the address is not on this machine)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"--host {host!r} is not an address of this machine ({exc})") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise RecsysError(f"recsys serve: cannot listen on {host}:{port} ({exc.strerror})") from exc
    sock.set_inheritable(True)
    return sock


def serve(data_dir: Path, sock: socket.socket, poll_seconds: float = 1.0) -> int:
    """Serve DATA_DIR/published/current on the bound `sock` until stopped; the exit status
    (0 after SIGINT/SIGTERM, 1 when the server could not start)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # One query per request: an OpenMP team costs more than the search it splits, and its
    # idle threads spin on the cores the event loop needs (measured: 25 ms vs 5.5 ms per
    # answer at 20k items on this 2-core machine under load).
    index.search_threads(1)
    metrics = Metrics()
    holder = ModelHolder(data_dir, metrics, poll_seconds)
    limits = Limits()
    app = create_app(holder, metrics, limits)
    config = uvicorn.Config(
        app,
        log_level="info",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        http=bounded_head_protocol(limits.max_head_bytes, app.state.served_id),
    )
    server = CleanServer(config)
    server.run(sockets=[sock])
    return 0 if server.started else 1
