"""Scale-out: the task runner of a run and the shards of the evaluate and export stages.

`ops.task_runner` picks threads in this process or a Dask cluster (prefect-dask) for every
flow. Stages that split their work submit one Prefect task per shard to the flow's runner
and combine what the shards return; a shard gets paths and small records, opens the stage
DuckDB read-only and writes only its own files, so shards never share a connection.

Shards are ranges of sorted ids, cut at multiples of the FAISS search batch: every search
batch then holds the same vectors whatever the number of shards, and FAISS (whose BLAS
kernels round differently for differently shaped batches) returns bit-identical scores,
so sharded outputs equal unsharded ones exactly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from recsys.config import OpsConfig

Range = tuple[str | None, str | None]  # [lo, hi) of ids; None = unbounded


def task_runner(ops: OpsConfig, threads: int | None = None):
    """The Prefect task runner `ops` asks for (a flow's `with_options(task_runner=...)`)."""
    if ops.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if ops.dask_address:
            return DaskTaskRunner(address=ops.dask_address)
        # One thread per worker: DuckDB, FAISS and gensim bring their own threads. The
        # scheduler and workers listen on loopback only, and so does the dashboard (Dask's
        # default, 0.0.0.0:8787, shows call stacks and logs to the whole network).
        kwargs = {
            "n_workers": ops.dask_workers,
            "threads_per_worker": 1,
            "host": "127.0.0.1",
            "dashboard_address": ops.dask_dashboard,
        }
        return DaskTaskRunner(cluster_class=local_cluster, cluster_kwargs=kwargs)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=threads)


def local_cluster(**kwargs: Any):
    """A `distributed.LocalCluster` that leaves this process's environment as it was.

    Dask's nanny writes its pre-spawn variables (PYTHONHASHSEED=6640 when unset or 0,
    OMP_NUM_THREADS=1, ...) into `os.environ` of the *parent* before spawning workers, so
    every later child of the run (the train-timeout subprocess) would inherit them: gensim
    would then hash differently than a threads run with PYTHONHASHSEED=0."""
    import os

    from distributed import LocalCluster

    saved = dict(os.environ)
    try:
        return LocalCluster(**kwargs)
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)


def _flow_runner():
    from prefect.context import FlowRunContext

    ctx = FlowRunContext.get()
    return ctx.task_runner if ctx is not None else None


def _is_dask(runner: Any) -> bool:
    return type(runner).__name__ == "DaskTaskRunner"


def shard_count(ops: OpsConfig | None) -> int:
    """`ops.shards`, or by default one per Dask worker of the run's cluster, 1 on threads."""
    if ops is None:
        return 1
    if ops.shards:
        return ops.shards
    runner = _flow_runner()
    if _is_dask(runner):
        return max(1, len(runner.client.scheduler_info()["workers"]))
    return ops.dask_workers if ops.task_runner == "dask" else 1


def ranges(sorted_ids: Sequence[str], batch: int, shards: int) -> list[Range]:
    """Cut sorted ids into at most `shards` contiguous ranges of whole search batches."""
    batches = math.ceil(len(sorted_ids) / batch)
    per_shard = max(1, math.ceil(batches / max(1, shards))) * batch
    cuts = [sorted_ids[i] for i in range(per_shard, len(sorted_ids), per_shard)]
    bounds: list[str | None] = [None, *cuts, None]
    return list(itertools.pairwise(bounds))


def run_shards(task: Any, calls: list[dict[str, Any]], ops: OpsConfig | None) -> list[Any]:
    """Run `task` once per keyword dict and return the results in order.

    Inside a flow each call is a Prefect task run on the flow's task runner (a Dask
    runner started from `ops` when the flow was not, e.g. a deployment run); outside a
    flow, or for a single shard, the task's function runs here."""
    runner = _flow_runner()
    if runner is None or len(calls) == 1:
        return [task.fn(**call) for call in calls]
    if ops is not None and ops.task_runner == "dask" and not _is_dask(runner):
        with task_runner(ops) as dask:
            return _gather([dask.submit(task, call) for call in calls])
    return _gather([task.submit(**call) for call in calls])


def worker_id() -> str:
    """host:pid of the process running a shard (reports show where shards ran)."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _gather(futures: list[Any]) -> list[Any]:
    return [future.result() for future in futures]


Mapper = Callable[[list[dict[str, Any]]], list[Any]]


def inline(fn: Callable[..., Any]) -> Mapper:
    """A mapper that runs every shard in this process, one after the other."""
    return lambda calls: [fn(**call) for call in calls]
