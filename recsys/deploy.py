"""`python -m recsys.deploy [ARGS]`: `prefect deploy ARGS`, working around a Prefect 3.8.8 bug.

After registering a deployment, Prefect 3.8.8's `prefect deploy` asks the server for the
pool's online workers with `limit: null, offset: null`, which its own server rejects (HTTP
422). The command then exits 1 after the *first* deployment, so `prefect deploy --all`
silently registers only one of prefect.yaml's deployments. This shim fills in the server's
defaults and then runs the unchanged Prefect CLI, so prefect.yaml stays the only definition.
"""

from __future__ import annotations

import sys

from prefect.client.orchestration import PrefectClient

_read_workers = PrefectClient.read_workers_for_work_pool


async def _read_workers_with_limits(
    self: PrefectClient, work_pool_name: str, worker_filter=None, offset=None, limit=None
):
    return await _read_workers(
        self, work_pool_name, worker_filter=worker_filter, offset=offset or 0, limit=limit or 200
    )


def main(argv: list[str] | None = None) -> int:
    """Run `prefect deploy` with `argv` (default: this process's arguments)."""
    from prefect.cli import app

    PrefectClient.read_workers_for_work_pool = _read_workers_with_limits
    args = list(sys.argv[1:] if argv is None else argv)
    sys.argv = ["prefect", "--no-prompt", "deploy", *args]  # Prefect's CLI reads sys.argv
    try:
        app()
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
