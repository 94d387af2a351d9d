"""Great Expectations runs in a process of its own (recsys/expectations/process.py): the
flow process never imports it, the worker never outlives its parent, a dead worker is
replaced on the next call."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from recsys.config import PipelineConfig
from recsys.errors import RecsysError, UsageError
from recsys.expectations import process


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state in /proc says it has exited.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_the_flow_process_never_imports_gx():
    code = (
        "import sys, recsys.cli, recsys.flows.pipeline, recsys.tasks.quality; "
        "sys.exit('great_expectations' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_worker_ends_with_its_parent():
    # The parent dies without running any exit handler (as under kill -9).
    code = (
        "import os; from recsys.expectations import process; process.start(); "
        "print(process._worker[0].pid, flush=True); os._exit(0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 4  # GX alone takes longer to import: the watcher ends it
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(pid)


def test_a_dead_worker_is_replaced_and_errors_come_back():
    cfg = PipelineConfig()
    process.start()
    process._worker[0].kill()  # died while idle: the next call starts another
    process._worker[0].wait()
    assert process.validate(cfg, {}, None) == ([], None)
    process._worker[0].kill()
    process._worker[0].wait()
    process.start()
    worker = process._worker[0]
    # Dies while the request waits for it (it is still importing GX).
    threading.Timer(0.5, worker.kill).start()
    with pytest.raises(RecsysError, match="Great Expectations process died"):
        process.validate(cfg, {}, None)
    typo = PipelineConfig.model_validate({"quality": {"severity": {"null_idz": "warn"}}})
    with pytest.raises(UsageError, match="null_idz"):
        process.validate(typo, {}, None)  # raised in the worker, re-raised here
