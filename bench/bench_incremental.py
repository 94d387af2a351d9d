"""Incremental extract: an hourly run that recomputes only the affected users.

The synthetic log of bench_extract (1M and 10M events over ~30 days) is cut at the time
that leaves its last 1/720 of events (about one hour of a 30-day log) as a new file. The
warehouse is built from the rest with one incremental run; then, each from a copy of that
warehouse and in a fresh process:

* `partial`: the incremental run that ingests the new file and recomputes the users it
  touches (tasks/extract/incremental.py);
* `full`: the same run with the stored results' settings cleared, so every row is re-cleaned
  and re-sessionized (what every incremental run did before);
* `bare`: the raw-library reference, bench_extract's bare DuckDB sessionization query over
  the whole log (history and new file).

All at the same 1.5 GB DuckDB memory limit, timed from their first DuckDB work.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_extract import BARE, MEMORY_LIMIT, _events  # noqa: E402

SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (100_000, 1_000_000)
NEW_SHARE = 1 / 720


def _split(events: Path, folder: Path) -> datetime:
    """Write history/ and new/ Parquet files into `folder`; returns a `now` after the log."""
    from recsys import sqlrun

    (folder / "history").mkdir(parents=True)
    (folder / "new").mkdir()
    with sqlrun.connect(memory_limit=MEMORY_LIMIT) as con:
        cut, newest = con.execute(
            "select quantile_disc(timestamp, 1 - $share), max(timestamp) from read_parquet($p)",
            {"p": str(events), "share": NEW_SHARE},
        ).fetchone()
        # The reference side of a benchmark (like bench_extract's BARE): fixed text, bound values.
        con.execute(
            "copy (select * from read_parquet($p) where timestamp <= $cut) to $out",
            {"p": str(events), "cut": cut, "out": str(folder / "history" / "part-0.parquet")},
        )
        con.execute(
            "copy (select * from read_parquet($p) where timestamp > $cut) to $out",
            {"p": str(events), "cut": cut, "out": str(folder / "new" / "part-0.parquet")},
        )
    return datetime.fromtimestamp(newest, UTC) + timedelta(days=1)


def _child(kind: str, folder: str, data: str, now: str) -> dict:
    from recsys import sqlrun
    from recsys.config import PipelineConfig
    from recsys.layout import RunPaths
    from recsys.tasks.extract import extract

    start = time.perf_counter()
    details = {}
    if kind == "bare":
        Path(data).mkdir(parents=True, exist_ok=True)
        with sqlrun.connect(Path(data) / "bare.duckdb", memory_limit=MEMORY_LIMIT) as con:
            files = [str(p) for p in sorted(Path(folder).glob("*/*.parquet"))]
            con.execute(BARE, {"path": files, "out": str(Path(data) / "bare.txt")})
    else:
        if kind == "full":  # forget the settings the stored results hold for
            with sqlrun.connect(Path(data) / "warehouse.duckdb") as con:
                con.execute("delete from wh_results_state")
        start = time.perf_counter()
        overrides = {"memory_limit": MEMORY_LIMIT, "incremental": True}
        cfg = PipelineConfig.model_validate({"extract": overrides})
        report = extract(RunPaths.new(data, folder), cfg, datetime.fromisoformat(now))
        details = report.details["incremental"]["recompute"] | {
            "rows_ingested": report.details["incremental"]["rows_ingested"],
            "corpus_sha256": report.details["corpus_sha256"],
        }
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak_rss_mib": peak / 2**20, **details}


def _measure(kind: str, folder: Path, data: Path, now: datetime) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(folder), str(data), now.isoformat()],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def one_size(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
        work = Path(tmp)
        now = _split(_events(n), work / "in")
        new = work / "in" / "new"
        parked = work / "parked"
        shutil.move(new, parked)  # the history first
        built = _measure("initial", work / "in", work / "data", now)
        shutil.move(parked, new)
        shutil.copytree(work / "data", work / "data-full")
        partial = _measure("partial", work / "in", work / "data", now)
        full = _measure("full", work / "in", work / "data-full", now)
        bare = _measure("bare", work / "in", work / "bare", now)
    if partial["corpus_sha256"] != full["corpus_sha256"]:
        raise AssertionError("the partial recompute's corpus differs from the full one's")
    return {
        "events": n,
        "new_rows": partial["rows_ingested"],
        "users_recomputed": partial["users"],
        "rows_recomputed": partial["rows"],
        "initial_s": built["seconds"],
        "partial_s": partial["seconds"],
        "full_s": full["seconds"],
        "bare_s": bare["seconds"],
        "partial/full": partial["seconds"] / full["seconds"],
        "partial/bare": partial["seconds"] / bare["seconds"],
        "partial_rss_mib": partial["peak_rss_mib"],
        "full_rss_mib": full["peak_rss_mib"],
    }


def main(quick: bool = False) -> list[dict]:
    """Rows of the benchmark table (see module docstring)."""
    return [one_size(n) for n in (QUICK_SIZES if quick else SIZES)]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(_child(*sys.argv[2:6])))
    else:
        for row in main(quick="--quick" in sys.argv):
            print(row)
