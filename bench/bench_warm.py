"""Warm start in the scheduled run (`train.init=champion`) against a full retrain.

A nightly run sees the log of the night before plus what came since. For each data set the
last 10% of time is the true future (as in bench_recall.py); the champion is published
from the past minus its newest `--new` share of time ("yesterday's log"), then the whole
past is run twice on copies of that data dir: from scratch (the default) and warm from the
champion's evaluated vectors on the sessions newer than its training data. Both published
models are scored on the true future by the independent scorer (item lists and session
lists, HR@20), and the train stage's seconds are read from the manifests. Other config
keys (e.g. the refit) are the defaults for both, or `--set`.

    python bench/bench_warm.py [--dataset ml100k|synthetic|PATH ...] [--new 0.05]
        [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_recall as recall  # noqa: E402
import recall_scorer as scorer  # noqa: E402


def _cut_file(source: Path, before: float, out: Path) -> Path:
    """The events of `source` before Unix time `before`, as Parquet."""
    con = duckdb.connect()
    con.execute(
        f"""copy (select user_id, item_id, timestamp from '{source}'
        where case when typeof(timestamp) like 'TIMESTAMP%' then epoch(timestamp::timestamp)
                   else timestamp::double end < {before}) to '{out}' (format parquet)"""
    )
    return out


def _first_time(source: Path) -> float:
    con = duckdb.connect()
    return con.execute(
        f"""select min(case when typeof(timestamp) like 'TIMESTAMP%'
                        then epoch(timestamp::timestamp) else timestamp::double end)
            from '{source}'"""
    ).fetchone()[0]


def measure(name: str, new: float, sets: list[str], tmp: Path) -> list[dict]:
    source = recall._events(name, tmp)
    log = scorer.read_log(str(source))
    future = scorer.cases(log.future)
    stem = Path(str(name)).stem
    past = recall._past_file(source, log.cut, tmp / f"{stem}-past.parquet")
    start = _first_time(source)
    yesterday = _cut_file(source, log.cut - new * (log.cut - start), tmp / f"{stem}-old.parquet")
    given = [a for kv in ["gate.enforce=false", *sets] for a in ("--set", kv)]
    champion = tmp / f"{stem}-yesterday"
    recall._cli("run", "--events", yesterday, "--data-dir", champion, *given)
    rows = []
    for label, init in (("full retrain", "scratch"), ("warm start", "champion")):
        data = tmp / f"{stem}-today-{init}"
        shutil.copytree(champion, data, symlinks=True)
        began = time.perf_counter()
        recall._cli(
            "run", "--events", past, "--data-dir", data, *given, "--set", f"train.init={init}"
        )
        seconds = time.perf_counter() - began
        run = (data / "published" / "current").resolve()
        manifest = json.loads((run / "manifest.json").read_text())
        train = manifest["stages"]["train"]
        item = scorer.rates(
            scorer.hit_ranks(recall._published_item_lists(run, log, future), future)
        )
        session = scorer.rates(
            scorer.hit_ranks(recall._published_session_lists(run, log, future), future)
        )
        rows.append(
            {
                "data": stem,
                "new share": new,
                "variant": label,
                "train s": round(train["seconds"], 2),
                "train tokens": train["rows_in"],
                "run s": round(seconds, 1),
                "item HR@20": round(item["hr@20"], 4),
                "session HR@20": round(session["hr@20"], 4),
                "evaluated model": manifest["models"]["evaluated"]["trained_on"],
            }
        )
    return rows


def main(quick: bool = False, argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", action="append", help="ml100k, synthetic or a path")
    parser.add_argument("--new", type=float, default=0.05, help="share of the past that is new")
    parser.add_argument("--set", action="append", default=[], help="key=value for both runs")
    args, _ = parser.parse_known_args(argv if argv is not None else [])
    names = args.dataset or (["synthetic"] if quick else ["ml100k", "synthetic"])
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows += measure(name, args.new, args.set, Path(tmp))
    return rows


if __name__ == "__main__":
    from run import print_table

    print_table("warm start vs full retrain (true future)", main(argv=sys.argv[1:]))
