"""Extract stage vs a bare DuckDB sessionization query on the same synthetic log.

The log is realistic at 1M and 10M events (`recsys.data.synthetic.generate` with Zipf popularity,
topic sessions, 1% crawler events and 2% near duplicates, users active concurrently over 30
days), written once as Parquet. Each measurement runs in a fresh child process so its peak
RSS is its own: the reference is a single DuckDB statement doing only gap sessionization
(30 min) and writing one line of item ids per session; the stage is `tasks.extract.extract`
with its default config except a 1.5 GB DuckDB memory limit (both sides). Reported: seconds,
ratio (goal <= 1.2), peak RSS (goal <= 2 GiB at 10M), 1M -> 10M time scaling (goal <= 11x).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (100_000, 1_000_000)
# DuckDB's limit counts its buffers only; Python, the libraries and allocator slack add
# ~200 MiB, so 1.5 GB keeps the whole process under the 2 GiB goal.
MEMORY_LIMIT = "1536MB"
CACHE = Path(tempfile.gettempdir()) / "recsys-bench-extract"

# The reference: what any DuckDB user would write to sessionize and dump a corpus.
BARE = """
copy (
    with gaps as (
        select user_id, item_id, "timestamp" as t,
            "timestamp" - lag("timestamp") over (partition by user_id order by "timestamp")
                as gap
        from read_parquet($path)
    ),
    numbered as (
        select *, sum(case when gap is null or gap > 1800 then 1 else 0 end)
            over (partition by user_id order by t rows unbounded preceding) as s
        from gaps
    )
    select string_agg(item_id, ' ' order by t) from numbered group by user_id, s
) to $out (format csv, header false, quote '', delimiter '\t')
"""


def _events(n: int) -> Path:
    from recsys.data.synthetic import generate, write

    path = CACHE / f"events-{n}.parquet"
    if not path.exists():
        table = generate(
            n,
            n_items=max(1_000, n // 100),
            seed=1,
            bot_fraction=0.01,
            duplicate_fraction=0.02,
            span_days=30,
        )
        write(table, path)
    return path


def _child(kind: str, events: str, work: str) -> dict:
    """Run one measurement in this (fresh) process; returns seconds and peak RSS.

    Imports happen before the clock starts (Prefect alone takes ~1.5 s to import; inside a
    flow it is already loaded): both sides are timed from their first DuckDB work."""
    from recsys import sqlrun
    from recsys.config import PipelineConfig
    from recsys.layout import RunPaths
    from recsys.tasks.extract import extract

    start = time.perf_counter()
    if kind == "bare":
        with sqlrun.connect(Path(work) / "bare.duckdb", memory_limit=MEMORY_LIMIT) as con:
            con.execute(BARE, {"path": events, "out": str(Path(work) / "bare.txt")})
        rows = None
    else:
        cfg = PipelineConfig.model_validate({"extract": {"memory_limit": MEMORY_LIMIT}})
        paths = RunPaths.new(work, events)
        report = extract(paths, cfg, now=datetime.now(UTC))
        rows = report.rows_out
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak_rss_mib": peak / 2**20, "rows_out": rows}


def _measure(kind: str, events: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as work:
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(events), work],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(quick: bool = False) -> list[dict]:
    """Rows of the benchmark table (see module docstring)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    sizes = QUICK_SIZES if quick else SIZES
    rows, stage_seconds = [], []
    for n in sizes:
        events = _events(n)
        bare = _measure("bare", events)
        stage = _measure("stage", events)
        stage_seconds.append(stage["seconds"])
        rows.append(
            {
                "events": n,
                "bare_s": bare["seconds"],
                "extract_s": stage["seconds"],
                "ratio": stage["seconds"] / bare["seconds"],
                "goal_ratio": 1.2,
                "bare_rss_mib": bare["peak_rss_mib"],
                "extract_rss_mib": stage["peak_rss_mib"],
                "goal_rss_mib": 2048,
                "duckdb_limit": MEMORY_LIMIT,
                "rows_out": stage["rows_out"],
            }
        )
    rows.append(
        {
            "events": f"scaling x{sizes[1] // sizes[0]}",
            "extract_s": stage_seconds[1],
            "ratio": stage_seconds[1] / stage_seconds[0],
            "goal_ratio": 11.0,
        }
    )
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_child(*sys.argv[2:5])))
    else:
        for row in main(quick="--quick" in sys.argv):
            print(row)
