"""Per-step cost of the extract stage: wall and process CPU seconds of each SQL file.

    PYTHONHASHSEED=0 python bench/extract_steps.py 10000000
    PYTHONHASHSEED=0 python bench/extract_steps.py 10000000 --incremental

With `--incremental`, the hourly run of bench_incremental.py is timed instead: the warehouse
is built (untimed) from all but the log's last 1/720, then the incremental run that ingests
that last part and recomputes only the affected users.

Runs `tasks.extract.extract` once, with the settings of bench_extract.py, on the log that
bench_extract.py generated (run it first), timing every `sqlrun.run` call. CPU seconds
(all threads) move less than wall seconds when other jobs share the machine; the bare
reference's CPU seconds are printed last for the ratio.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_extract import BARE, CACHE, MEMORY_LIMIT

from recsys import sqlrun
from recsys.config import PipelineConfig
from recsys.layout import RunPaths
from recsys.tasks.extract import extract


def _line(name: str, wall: float, cpu: float) -> None:
    print(f"{name:24s} {time.perf_counter() - wall:7.2f} s {time.process_time() - cpu:7.2f} cpu-s")


def incremental(n: int) -> None:
    import shutil

    from bench_extract import _events
    from bench_incremental import _split

    cfg = PipelineConfig.model_validate(
        {"extract": {"memory_limit": MEMORY_LIMIT, "incremental": True}}
    )
    with tempfile.TemporaryDirectory(prefix="extract-steps-") as work:
        folder, data = Path(work) / "in", Path(work) / "data"
        now = _split(_events(n), folder)
        shutil.move(folder / "new", Path(work) / "new")
        extract(RunPaths.new(data, str(folder)), cfg, now=now)
        shutil.move(Path(work) / "new", folder / "new")
        run = sqlrun.run

        def timed(con, name, *args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            result = run(con, name, *args, **kwargs)
            _line(name, wall, cpu)
            return result

        sqlrun.run = timed
        wall, cpu = time.perf_counter(), time.process_time()
        extract(RunPaths.new(data, str(folder)), cfg, now=now)
        _line("stage (incremental)", wall, cpu)
        sqlrun.run = run


def main(n: int) -> None:
    events = CACHE / f"events-{n}.parquet"
    run = sqlrun.run

    def timed(con, name, *args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run(con, name, *args, **kwargs)
        _line(name, wall, cpu)
        return result

    sqlrun.run = timed
    cfg = PipelineConfig.model_validate({"extract": {"memory_limit": MEMORY_LIMIT}})
    with tempfile.TemporaryDirectory(prefix="extract-steps-") as work:
        wall, cpu = time.perf_counter(), time.process_time()
        extract(RunPaths.new(work, str(events)), cfg, now=datetime.now(UTC))
        _line("stage", wall, cpu)
        sqlrun.run = run
        wall, cpu = time.perf_counter(), time.process_time()
        with sqlrun.connect(Path(work) / "bare.duckdb", memory_limit=MEMORY_LIMIT) as con:
            con.execute(BARE, {"path": str(events), "out": str(Path(work) / "bare.txt")})
        _line("bare", wall, cpu)


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1_000_000
    (incremental if "--incremental" in sys.argv else main)(size)
