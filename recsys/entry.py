"""The `recsys` script's first lines, run before the CLI's imports (~0.3 s of typer,
pydantic and the config models).

A stop signal that reaches `recsys serve` while those load is a clean stop (exit 0, no
output), as it is later in the server's start-up (`recsys.serve.startup`): a service
manager that starts and stops a unit at once got 143, death by the signal. Every other
command keeps Python's defaults until `recsys.cli.main` installs its own handlers."""

from __future__ import annotations

import sys
from contextlib import nullcontext

from recsys.serve.startup import StopServing, stoppable  # signal and sys only


def console() -> None:
    serving = sys.argv[1:2] == ["serve"]
    try:
        with stoppable() if serving else nullcontext():
            from recsys.cli import console as run
    except StopServing:
        raise SystemExit(0) from None
    run()
