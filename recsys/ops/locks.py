"""Prefect global concurrency limits around files that only one process may write.

DuckDB allows a single writing process per database file. Runs of different deployments
(nightly, manual, tuning) are not serialised by a deployment's `concurrency_limit`, so the
shared DATA_DIR/warehouse.duckdb is guarded by a global limit of one slot: a second writer
waits for the slot instead of failing on DuckDB's file lock. The limit shows (and can be
inspected) under Concurrency in the Prefect UI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from recsys.stage import in_prefect_run, logger

WAREHOUSE_LIMIT = "recsys-warehouse-writer"


def ensure_limit(name: str, slots: int = 1) -> None:
    """Create the global concurrency limit `name` with `slots`, or reset it to `slots`.

    Prefect 3 no longer creates limits on first use (a missing limit limits nothing), so
    every writer makes sure it exists before taking a slot.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectAlreadyExists, PrefectHTTPStatusError

    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(name, slots)
        except (ObjectAlreadyExists, PrefectHTTPStatusError) as exc:
            # Two runs creating it at the same moment: the other one won, which is fine.
            if "409" not in str(exc) and not isinstance(exc, ObjectAlreadyExists):
                raise


@contextmanager
def exclusive(name: str, timeout_seconds: float = 600) -> Iterator[None]:
    """Hold the only slot of global limit `name` (created if missing) for the block.

    Outside a Prefect run (library calls, unit tests) there is no API to hold a slot on;
    the block then runs unguarded and the writer relies on DuckDB's own file lock.
    A run that dies while holding the slot loses its lease after Prefect's lease duration
    (300 s), so a crashed writer never blocks the next one for good.
    """
    if not in_prefect_run():
        yield
        return
    from prefect.concurrency.sync import concurrency

    ensure_limit(name)
    logger().debug("waiting for global concurrency slot %s", name)
    with concurrency(name, occupy=1, timeout_seconds=timeout_seconds, strict=True):
        yield
