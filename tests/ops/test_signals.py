"""A stop signal that lands inside a DuckDB query (which turns it into "Query interrupted")
is still seen: no retry, and the CLI exits with the signal's code, not 0 or 1."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time

    # As in a terminal (a background job, e.g. under CI, starts with SIGINT ignored, and
    # DuckDB then never checks for signals during a query).
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
    # Queries until the signal is handled (inside one, where DuckDB checks for signals, it
    # becomes "Query interrupted"; otherwise between two), at most ~20 s.
    started = time.monotonic()
    try:
        while time.monotonic() - started < 20:
            con.sql("select count(*) from range(30000000) t(a) where a % 7 = 3").fetchall()
        print("never interrupted")
    except BaseException as exc:
        print("interrupted", type(exc).__name__, exc)

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
    assert "interrupted" in out.stdout and "never" not in out.stdout, out.stdout + out.stderr
    assert f"stopped True exit {128 + getattr(signal, name)}" in out.stdout
    assert "retried False" in out.stdout


def test_an_ignored_signal_stays_ignored():
    script = (
        "import os, signal, time\n"
        "from recsys.ops import signals\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "signals.watch()\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(0.2)\n"
        "print('ignored', signal.getsignal(signal.SIGINT) == signal.SIG_IGN, signals.stopped())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "ignored True None" in out.stdout, out.stdout + out.stderr


def test_without_a_signal_io_errors_are_retried():
    from recsys.ops import signals
    from recsys.stage import retry_unless_deterministic

    class State:
        def result(self):
            raise OSError("disk hiccup")

    assert signals.stopped() is None
    assert retry_unless_deterministic(None, None, State()) is True


def test_sigterm_handed_back_by_prefect_is_an_exception_not_death():
    # Prefect's flow engine restores the SIGTERM handler it found and sends the signal
    # again: with Python's default there, a run stopped in training died by the signal
    # (no error line, no exit code of ours).
    script = textwrap.dedent(
        """
        import os, signal, time
        from prefect.utilities.engine import capture_sigterm
        from recsys.ops import signals

        signals.install()
        try:
            with capture_sigterm():
                signals.watch()
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
        except BaseException as exc:
            print("raised", type(exc).__name__)
        print("exit", signals.exit_code())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "raised Stopped" in out.stdout and "exit 143" in out.stdout, out.stdout + out.stderr


def test_ctrl_c_before_any_flow_is_exit_130_with_one_line(tmp_path):
    # typer turns a KeyboardInterrupt into a returned 130, which the CLI used to drop: a
    # Ctrl-C during `generate` (or a run's start-up) exited 0 without a word.
    out = tmp_path / "big.csv"
    cmd = [sys.executable, "-m", "recsys", "generate", "--events", "50000000", "--out", str(out)]
    child = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As in a terminal: CI may start jobs with SIGINT ignored, which children inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(4)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, stdout + stderr
    assert stderr.strip().splitlines() == ["error: stopped by SIGINT"], stderr


def test_expected_failures_and_any_after_a_stop_log_without_a_traceback(monkeypatch):
    # A tampered champion under `recsys refresh`, and a tune's trials losing their files to
    # the rollback after Ctrl-C, printed full tracebacks above the one error line.
    import logging

    from recsys.errors import DataQualityError, PublishError
    from recsys.ops import signals
    from recsys.stage import quiet_expected_failures

    quiet_expected_failures()
    log = logging.getLogger("prefect.task_runs")

    def logged(exc: BaseException) -> logging.LogRecord:
        record = log.makeRecord(log.name, logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = (type(exc), exc, None)
        assert all(f.filter(record) for f in log.filters)
        return record

    assert logged(PublishError("tampered")).exc_info is None
    assert logged(DataQualityError("bad rows")).exc_info is None
    assert logged(FileNotFoundError("corpus")).exc_info is not None  # a crash keeps it
    monkeypatch.setattr(signals, "_seen", signal.SIGINT)
    assert logged(FileNotFoundError("corpus")).exc_info is None
