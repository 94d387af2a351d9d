"""The reference for bench_pipeline: the same work with the raw libraries, no orchestration.

DuckDB (read, gap sessionization, time split, corpus) -> gensim (corpus_file) -> FAISS
(exact inner product, in·out) -> Parquet (item and user top-K, seen items removed). No
Prefect, no quality checks, no manifest, no atomic publish: what a hand-rolled notebook does.

    python bench/raw_pipeline.py EVENTS.parquet OUT_DIR '{"epochs": 5, "workers": 2, ...}'

The third argument holds gensim's keyword arguments (bench_pipeline passes the project's
default training knobs, so both train the same model); `EPOCHS WORKERS` instead keeps the
script's own knobs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb
import faiss
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from gensim.models import Word2Vec

K = 20


OWN_KNOBS = {
    "vector_size": 32,
    "window": 3,
    "sg": 1,
    "negative": 10,
    "ns_exponent": 0.0,
    "sample": 0.0,
    "min_count": 1,
    "seed": 42,
}


def main(events: str, out: str, knobs: dict) -> dict[str, float]:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        """
        create table ev as
        with e as (
            select user_id, item_id, to_timestamp(timestamp) as ts,
                   row_number() over () as o
            from read_parquet($p)
        ),
        g as (
            select *, lag(ts) over (partition by user_id order by ts, o) as prev from e
        ),
        s as (
            select *, sum(case when prev is null or ts - prev > interval 30 minute
                               then 1 else 0 end)
                      over (partition by user_id order by ts, o) as sess
            from g
        ),
        c as (select quantile_disc(ts, 0.9) as cut from e)
        select s.*, s.ts < c.cut as train from s, c
        """,
        {"p": events},
    )
    con.execute(
        """
        copy (
            select string_agg(item_id, ' ' order by ts, o)
            from ev where train group by user_id, sess having count(*) >= 2
        ) to $p (format csv, header false, quote '')
        """,
        {"p": str(out_dir / "corpus.txt")},
    )
    seconds["duckdb"] = time.perf_counter() - start
    start = time.perf_counter()
    model = Word2Vec(corpus_file=str(out_dir / "corpus.txt"), **knobs)
    seconds["gensim"] = time.perf_counter() - start
    start = time.perf_counter()
    keys = np.asarray(model.wv.index_to_key, dtype=object)
    index = faiss.IndexFlatIP(model.vector_size)
    index.add(np.ascontiguousarray(model.syn1neg))
    scores, ids = index.search(np.ascontiguousarray(model.wv.vectors), K + 1)
    rows = np.repeat(np.arange(len(keys)), K + 1)
    keep = ids.ravel() != rows
    pq.write_table(
        pa.table(
            {
                "item_id": keys[rows[keep]].tolist(),
                "neighbor_id": keys[ids.ravel()[keep]].tolist(),
                "score": scores.ravel()[keep],
            }
        ),
        out_dir / "item_recs.parquet",
    )
    history = con.execute(
        """
        select user_id, item_id from (
            select user_id, item_id,
                   row_number() over (partition by user_id order by max(ts) desc) as r
            from ev group by user_id, item_id
        ) where r <= 20 order by user_id
        """
    ).fetchnumpy()
    row_of = {k: i for i, k in enumerate(keys.tolist())}
    item_rows = np.array([row_of.get(i, -1) for i in history["item_id"]])
    users = history["user_id"][item_rows >= 0]
    item_rows = item_rows[item_rows >= 0]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    vectors = np.add.reduceat(model.wv.vectors[item_rows], starts, axis=0)
    scores, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32), K + 100)
    recs = pa.table(
        {
            "user_id": np.repeat(users[starts], ids.shape[1]).tolist(),
            "item_id": keys[ids.ravel()].tolist(),
            "score": scores.ravel(),
        }
    )
    con.register("recs", recs)
    con.execute(
        """
        copy (
            select * from (
                select r.*, row_number() over (partition by r.user_id
                                                order by r.score desc) as rank
                from recs r anti join (select distinct user_id, item_id from ev) s
                    on r.user_id = s.user_id and r.item_id = s.item_id
            ) where rank <= 20
        ) to $p (format parquet)
        """,
        {"p": str(out_dir / "user_recs.parquet")},
    )
    seconds["faiss+parquet"] = time.perf_counter() - start
    return seconds


if __name__ == "__main__":
    if sys.argv[3].startswith("{"):
        given = json.loads(sys.argv[3])
    else:
        given = OWN_KNOBS | {"epochs": int(sys.argv[3]), "workers": int(sys.argv[4])}
    result = main(sys.argv[1], sys.argv[2], given)
    print(" ".join(f"{k}={v:.3f}" for k, v in result.items()))
