"""A stop signal that lands inside a DuckDB query (which turns it into "Query interrupted")
is still seen: no retry, and the CLI exits with the signal's code, not 0 or 1."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import duckdb
    from recsys.ops import signals
    from recsys.stage import retry_unless_deterministic

    def prefect_bridge(signum, frame):  # what Prefect installs for SIGTERM during a flow
        raise RuntimeError("TerminationSignal")

    signal.signal(signal.SIGTERM, prefect_bridge)
    signals.watch()
    sig = getattr(signal, sys.argv[1])
    threading.Timer(1.0, os.kill, (os.getpid(), sig)).start()
    con = duckdb.connect()
    try:
        endless = "select count(*) from range(10000000000) t(a), range(10) u(b) where a % 7 = b"
        con.sql(endless).fetchall()
        print("query finished")
    except BaseException as exc:
        print("query raised", type(exc).__name__, exc)

    class State:
        def result(self):
            raise OSError("disk hiccup")

    print("stopped", signals.stopped() == sig, "exit", signals.exit_code())
    print("retried", retry_unless_deterministic(None, None, State()))
    """
)


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_inside_a_query_is_seen(name):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, name], capture_output=True, text=True, timeout=120
    )
    assert "query raised" in out.stdout, out.stdout + out.stderr
    assert f"stopped True exit {128 + getattr(signal, name)}" in out.stdout
    assert "retried False" in out.stdout


def test_without_a_signal_io_errors_are_retried():
    from recsys.ops import signals
    from recsys.stage import retry_unless_deterministic

    class State:
        def result(self):
            raise OSError("disk hiccup")

    assert signals.stopped() is None
    assert retry_unless_deterministic(None, None, State()) is True
