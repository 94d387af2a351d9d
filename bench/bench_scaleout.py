"""Scale-out: the evaluate + export stages sharded on a 2-worker Dask LocalCluster vs the same
stages unsharded in one process (the reference: what `recsys run` does by default).

One run's stage (synthetic events -> extract -> a 2-epoch model) is prepared once, outside
the clock. Then, inside a Prefect flow (a real API from Prefect's test harness), the two
stage tasks run (a) unsharded on the default thread runner and (b) with `ops.shards=2` on a
`DaskTaskRunner` LocalCluster of 2 single-threaded worker processes. (b) is timed twice:
the first pass includes the workers' first imports of the stage code, the second is warm.
Outputs of every variant are checked equal to (a): metrics, item_recs and user_recs.
Ratios < 1 mean sharding pays; on a 2-core machine shared with other jobs, the unsharded
stage already uses both cores (DuckDB and FAISS are multi-threaded), so do not expect 0.5.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _prepare(root: Path, n_events: int):
    from recsys.config import PipelineConfig
    from recsys.data.synthetic import generate, write
    from recsys.layout import RunPaths
    from recsys.tasks.extract import extract
    from recsys.tasks.train import train

    events = write(generate(n_events, max(1_000, n_events // 500), seed=3), root / "ev.parquet")
    cfg = PipelineConfig.model_validate(
        {
            "train": {"epochs": 2, "workers": 2},
            "gate": {"enforce": False},
            # Shards are cut at whole FAISS batches; 1024 lets the synthetic catalogue
            # (n/500 items) split. Both variants use the same batches.
            "evaluate": {"diagnostics": False, "search_batch": 1024},
            "export": {"batch_size": 1024},
        }
    )
    paths = RunPaths.new(root / "data", str(events)).ensure()
    extract(paths, cfg)
    train(paths, cfg)
    return paths, cfg


def _outputs(paths) -> tuple:
    import pyarrow.parquet as pq

    from recsys.layout import ITEM_RECS, METRICS, USER_RECS

    metrics = json.loads((paths.out / METRICS).read_text())
    metrics.pop("evaluated_at")
    return (
        metrics,
        pq.read_table(paths.out / ITEM_RECS),
        pq.read_table(paths.out / USER_RECS),
    )


def _same(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and a[1].equals(b[1]) and a[2].equals(b[2])


def main(quick: bool = False) -> list[dict]:
    from prefect import flow
    from prefect.testing.utilities import prefect_test_harness

    from recsys.config import OpsConfig
    from recsys.ops.scaleout import task_runner
    from recsys.tasks.evaluate import evaluate_task
    from recsys.tasks.export import export_task

    n_events = 100_000 if quick else 1_000_000
    root = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    rows: list[dict] = []
    try:
        paths, cfg = _prepare(root, n_events)

        @flow(name="bench-scaleout", validate_parameters=False)
        def stages(ops: OpsConfig, passes: int) -> list[tuple[float, float]]:
            out = []
            for _ in range(passes):
                t0 = time.perf_counter()
                ev = evaluate_task(paths, cfg.model_copy(update={"ops": ops}))
                t1 = time.perf_counter()
                ex = export_task(paths, cfg.model_copy(update={"ops": ops}))
                shards = f"{ev.details['shards']}/{ex.details['shards']}"
                out.append((t1 - t0, time.perf_counter() - t1, shards))
            return out

        with prefect_test_harness(server_startup_timeout=180):
            single = OpsConfig()
            (ref,) = stages.with_options(task_runner=task_runner(single))(single, 1)
            expected = _outputs(paths)
            dask = OpsConfig(task_runner="dask", dask_workers=2, shards=2)
            t_start = time.perf_counter()
            cold, warm = stages.with_options(task_runner=task_runner(dask))(dask, 2)
            total = time.perf_counter() - t_start
            same = _same(_outputs(paths), expected)
        base = ref[0] + ref[1]
        rows.append(_row(n_events, "unsharded, in-process (reference)", ref, base, True))
        rows.append(_row(n_events, "2 shards, LocalCluster 2 procs, 1st", cold, base, same))
        rows.append(_row(n_events, "2 shards, LocalCluster 2 procs, 2nd", warm, base, same))
        rows.append(
            {
                "events": n_events,
                "variant": "LocalCluster start + 2 passes + close (flow wall)",
                "seconds": round(total, 2),
            }
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


def _row(n: int, variant: str, times: tuple, base: float, same: bool) -> dict:
    return {
        "events": n,
        "variant": variant,
        "shards (evaluate/export)": times[2],
        "evaluate s": round(times[0], 2),
        "export s": round(times[1], 2),
        "seconds": round(times[0] + times[1], 2),
        "ratio": round((times[0] + times[1]) / base, 2),
        "outputs equal": "yes" if same else "NO",
    }


if __name__ == "__main__":
    import sys

    for row in main(quick="--quick" in sys.argv):
        print(row)
