"""Recall quality as a user measures it: the published lists on the log's true future,
against tuned baselines, with an independent scorer (bench/recall_scorer.py).

For each data set the last 10% of time is cut off as the future; `recsys run` (and, with
`--tune`, `recsys tune` first) sees only the part before. Then, per future case:

- item lists: `item_recs.parquet` of the session's last item (as published, k deep; an
  item the model never saw gets the served popularity fallback), the session's items
  removed, HR@20 / MRR@20 against popularity, co-occurrence, SR, windowed co-occurrence
  and item-kNN fitted on the same past (best parameters in hindsight);
- session lists: what `POST /recommend` answers for the session so far (the published
  vectors, count lists and weights, recsys/model/scoring.py) against whole-prefix SR and
  session-kNN.

    python bench/bench_recall.py [--tune] [--dataset ml100k|synthetic|PATH ...]
                                  [--set key=value ...] [--variant 'label: key=value ...']

Extra logs (any events file with user_id, item_id, timestamp) can be named with
--dataset or in RECSYS_BENCH_LOGS (comma-separated); they are not part of the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import recall_scorer as scorer  # noqa: E402


def _events(name: str, tmp: Path) -> Path:
    if name == "ml100k":
        from recsys.data.movielens import ml100k_events

        return ml100k_events(tmp / "ml100k")
    if name == "synthetic":
        from recsys.data.synthetic import generate, write

        return write(generate(200_000, 2_000, seed=11), tmp / "synthetic.parquet")
    return Path(name)


def _past_file(source: Path, cut: float, out: Path) -> Path:
    con = duckdb.connect()
    con.execute(
        f"""copy (select user_id, item_id, timestamp from '{source}'
        where case when typeof(timestamp) like 'TIMESTAMP%' then epoch(timestamp::timestamp)
                   else timestamp::double end < {cut}) to '{out}' (format parquet)"""
    )
    return out


def _cli(*args: str) -> int:
    """Run a recsys command; a gate refusal (exit 4) is a result, anything else a failure."""
    from recsys.cli import main as cli

    code = cli([str(a) for a in args])
    if code not in (0, 4):
        raise SystemExit(f"recsys {args[0]} exited {code}")
    return code


def _served_fallback(run: Path, depth: int) -> list[str]:
    """What `POST /recommend` answers for a session of items the model never saw (its
    popularity fallback): the baselines' lists of such an item are their popularity
    tie-break, so both sides answer it."""
    from recsys.serve import recall
    from recsys.serve.model import load_run

    items, _ = recall.session(load_run(run, lists=False), ["\x00never-seen"], depth)
    return [item["item_id"] for item in items]


def _published_item_lists(run: Path, log, future_cases) -> list[list[int]]:
    """`item_recs.parquet` of each case's last item; an item the model never saw (first
    seen in the future) gets the served fallback."""
    code = {name: i for i, name in enumerate(log.names.tolist())}
    recs = pq.read_table(run / "item_recs.parquet").to_pylist()
    by_item: dict[int, list[tuple[int, int]]] = {}
    for r in recs:
        if r["item_id"] in code and r["neighbor_id"] in code:
            by_item.setdefault(code[r["item_id"]], []).append((r["rank"], code[r["neighbor_id"]]))
    lists = {item: [i for _, i in sorted(rows)] for item, rows in by_item.items()}
    popular = [code[i] for i in _served_fallback(run, 80) if i in code]
    return [lists.get(prefix[-1], popular) for prefix, _ in future_cases]


def _published_session_lists(run: Path, log, future_cases, depth: int = 80) -> list[list[int]]:
    """What live session recall answers: the served model's channels, fused."""
    from recsys.config import PipelineConfig, migrate_config
    from recsys.model import index
    from recsys.model.counts import CountLists
    from recsys.model.embedding import Embedding
    from recsys.model.scoring import Channels, decay_weights, fuse

    cfg = PipelineConfig.model_validate(
        migrate_config(json.loads((run / "manifest.json").read_text())["config"])
    )
    ex = cfg.export
    emb = Embedding.load(run)
    queries, _ = emb.spaces(ex.scoring)
    counts = pq.read_table(run / "count_lists.parquet")
    src = emb.rows(counts.column("item_id").to_pylist())
    dst = emb.rows(counts.column("neighbor_id").to_pylist())
    keep = (src >= 0) & (dst >= 0)
    count_lists = CountLists(
        src[keep], dst[keep], counts.column("score").to_numpy()[keep], len(emb)
    )
    channels = Channels(queries, index.load(run), count_lists, emb.counts)
    names = log.names
    owner, rows, recency = [], [], []
    for c, (prefix, _) in enumerate(future_cases):
        known = emb.rows([names[i] for i in prefix])
        age = np.arange(len(prefix))[::-1]
        mine = (known >= 0) & (age < ex.user_history)
        owner += [c] * int(mine.sum())
        rows += known[mine].tolist()
        recency += age[mine].tolist()
    parts = channels.for_sessions(
        np.array(owner),
        np.array(rows),
        decay_weights(np.array(recency), ex.recency_decay),
        len(future_cases),
        depth,
    )
    ids, _, _ = fuse(parts, ex.session_weights.of(), depth)
    code = {name: i for i, name in enumerate(names.tolist())}
    items = emb.item_ids
    lists = [[code[items[i]] for i in row if i >= 0 and items[i] in code] for row in ids]
    popular = [code[i] for i in _served_fallback(run, depth) if i in code]
    queried = np.bincount(np.array(owner, dtype=np.int64), minlength=len(future_cases)) > 0
    return [lists[c] if queried[c] else popular for c in range(len(future_cases))]


def measure(
    name: str,
    tune: bool,
    tmp: Path,
    sets: list[str] | None = None,
    variants: list[str] | None = None,
) -> list[dict]:
    source = _events(name, tmp)
    log = scorer.read_log(str(source))
    future = scorer.cases(log.future)
    past = _past_file(source, log.cut, tmp / f"{Path(str(name)).stem}-past.parquet")
    rows = []
    item_base = scorer.item_baselines(log, future)
    session_base = scorer.session_baselines(log, future)
    runs = [("defaults", [], [])] + ([("tuned", ["tune"], [])] if tune else [])
    for variant in variants or []:  # "label: key=value key=value"
        label, _, keys = variant.partition(":")
        runs.append((label.strip(), [], keys.split()))
    for label, steps, keys in runs:
        data = tmp / f"{Path(str(name)).stem}-{label}"
        start = time.perf_counter()
        if steps:
            _cli("tune", "--events", past, "--data-dir", data)
        given = [a for kv in [*(sets or []), *keys] for a in ("--set", kv)]
        refused = _cli("run", "--events", past, "--data-dir", data, *given) == 4
        seconds = time.perf_counter() - start
        if refused:  # nothing published: the gate found it worse than a baseline
            rows.append({"data": Path(str(name)).stem, "model": f"{label}: refused (exit 4)"})
            continue
        run = (data / "published" / "current").resolve()
        stages = json.loads((run / "manifest.json").read_text())["stages"]
        ours = {
            "item": scorer.rates(scorer.hit_ranks(_published_item_lists(run, log, future), future)),
            "session": scorer.rates(
                scorer.hit_ranks(_published_session_lists(run, log, future), future)
            ),
        }
        for kind, base in (("item", item_base), ("session", session_base)):
            best = max(base, key=lambda b: base[b]["hr@20"])
            rows.append(
                {
                    "data": Path(str(name)).stem,
                    "lists": kind,
                    "model": label,
                    "HR@20": ours[kind]["hr@20"],
                    "MRR@20": ours[kind]["mrr@20"],
                    "best baseline": best,
                    "its HR@20": base[best]["hr@20"],
                    "ratio": ours[kind]["hr@20"] / base[best]["hr@20"],
                    "seconds": round(seconds, 1),
                    **{f"{k} s": round(stages[k]["seconds"], 2) for k in ("train", "refit")},
                }
            )
    for kind, base in (("item", item_base), ("session", session_base)):
        for b, values in base.items():
            rows.append(
                {
                    "data": Path(str(name)).stem,
                    "lists": kind,
                    "model": f"baseline {b}",
                    "HR@20": values["hr@20"],
                    "MRR@20": values["mrr@20"],
                    "best baseline": json.dumps(values["params"]),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tune", action="store_true", help="also measure after `recsys tune`")
    parser.add_argument("--dataset", action="append", help="ml100k, synthetic or a path")
    parser.add_argument("--quick", action="store_true", help="synthetic data only")
    parser.add_argument(
        "--set", action="append", default=[], help="config key=value for every `recsys run`"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="one more run, e.g. 'warm: train.refit=warm train.warm_epochs=5'",
    )
    args, _ = parser.parse_known_args(argv)
    names = args.dataset or (["synthetic"] if args.quick else ["ml100k", "synthetic"])
    names += [p for p in os.environ.get("RECSYS_BENCH_LOGS", "").split(",") if p]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows += measure(name, args.tune, Path(tmp), args.set, args.variant)
    return rows


if __name__ == "__main__":
    from run import print_table

    print_table("recall on the true future (independent scorer)", main())
