"""The temporary Prefect API of a command-line run, tied to the life of the process.

Without `PREFECT_API_URL`, Prefect starts a temporary API server as a child process and
stops it from an exit handler. A `recsys run` killed with SIGKILL runs no handler, so the
server stayed behind, holding its port and the SQLite database. Here the command line
starts that server itself, from its main thread, through a launcher that asks Linux to
send the server SIGTERM when its parent dies (PR_SET_PDEATHSIG); Prefect's own code then
finds it running and uses it (the server object is one per process).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def start_local_api() -> None:
    """Start the temporary API (tied to this process) unless an API is configured."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not sys.platform.startswith("linux"):
        return
    from prefect.server.api.server import SubprocessASGIServer

    class _TiedServer(SubprocessASGIServer):
        def _run_uvicorn_command(self):
            import subprocess

            process = super()._run_uvicorn_command
            original = subprocess.Popen

            def tied(args, **kwargs):
                launcher = [sys.executable, "-m", "recsys.ops.server", str(os.getpid())]
                return original([*launcher, *args], **kwargs)

            subprocess.Popen = tied  # only for this one call, from this thread
            try:
                return process()
            finally:
                subprocess.Popen = original

    _TiedServer().start()


def _launch(parent: int, command: list[str]) -> None:
    """Become `command`, asking the kernel for SIGTERM when `parent` dies (it may already
    have: then exit at once)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)
    os.execv(command[0], command)


if __name__ == "__main__":
    _launch(int(sys.argv[1]), sys.argv[2:])
