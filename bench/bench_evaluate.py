"""Evaluation at scale: the DuckDB evaluate path vs a raw numpy reference.

A synthetic stage database (sessions over a Zipf catalogue) with N held-out events goes
through `tasks.evaluate.compute_metrics` exactly as in a run: FAISS top-K per distinct
query item, every item and session baseline in SQL, hits joined in DuckDB, HR/MRR/NDCG at
every K, slices, coverage and popularity bias, the session task. The reference computes
only the model's HR@K with numpy (top-K from the same FAISS search, hits by broadcast
compare): the floor any implementation pays. With `evaluate.max_cases=None` (every case)
the two HR@K must agree; the default bound (20,000 cases) is timed beside it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys import sqlrun
from recsys.config import ChannelWeights, PipelineConfig
from recsys.model import index
from recsys.model.embedding import Embedding
from recsys.tasks.evaluate import compute_metrics
from recsys.tasks.evaluate.shards import Scored

K = 20


def _events(n: int, n_items: int, split: str, rng, first_session: int) -> pa.Table:
    """Sessions of 2..20 events; items drawn from a Zipf-like popularity."""
    lengths = rng.integers(2, 21, size=n // 2)
    lengths = lengths[np.cumsum(lengths) <= n]
    session = np.repeat(np.arange(len(lengths)) + first_session, lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos = np.arange(len(session)) - starts + 1
    p = 1.0 / np.arange(1, n_items + 1) ** 0.9
    items = rng.choice(n_items, size=len(session), p=p / p.sum())
    return pa.table(
        {
            "session": session,
            "pos": pos,
            "item_id": pc.cast(pa.array(items), pa.string()),
            "split": pa.array([split] * len(session), pa.string()),
            "session_length": np.repeat(lengths, lengths),
            "ts": pa.array(1_700_000_000 + np.arange(len(session)), pa.timestamp("s")),
        }
    )


def _stage_db(path: Path, n_test: int, n_train: int, n_items: int) -> None:
    rng = np.random.default_rng(0)
    train = _events(n_train, n_items, "train", rng, 0)
    test = _events(n_test, n_items, "test", rng, 10**9)
    with sqlrun.connect(path) as con:
        con.from_arrow(pa.concat_tables([train, test])).create("events")
        counts = con.from_arrow(train).aggregate("item_id, count(*) as train_count")
        counts.create("train_counts")
        con.table("train_counts").project(
            "row_number() over (order by train_count desc, item_id) - 1 as token, "
            "item_id, train_count"
        ).create("items")


def _reference_hr(path: Path, emb: Embedding) -> tuple[float, float]:
    """Model HR@K with numpy only: pairs read once, hits by broadcast compare."""
    with sqlrun.connect(path, read_only=True) as con:
        test = con.table("events").filter("split = 'test'").order("session, pos").to_arrow_table()
    start = time.perf_counter()
    session = test.column("session").to_numpy()
    rows = emb.rows(test.column("item_id").to_pylist())
    same = session[1:] == session[:-1]
    query, target = rows[:-1][same], rows[1:][same]
    known = np.unique(query[query >= 0])
    queries, indexed = emb.spaces("in_out")
    _, ids = index.neighbours_without_self(index.build_exact(indexed), queries, known, K)
    lookup = np.full(len(emb), -1)
    lookup[known] = np.arange(len(known))
    ok = query >= 0
    hit = np.zeros(len(query), dtype=bool)
    hit[ok] = (ids[lookup[query[ok]]] == target[ok, None]).any(axis=1)
    return float(hit.mean()), time.perf_counter() - start


def main(quick: bool = False) -> list[dict]:
    sizes = [200_000] if quick else [1_000_000, 10_000_000]
    n_items = 5_000 if quick else 20_000
    rows = []
    # The embedding channel alone, so the reference's HR is the model's.
    alone = ChannelWeights(embedding=1.0, count=0.0, popularity=0.0)
    for n_test in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "stage.duckdb"
            _stage_db(db, n_test, max(n_test // 2, 200_000), n_items)
            rng = np.random.default_rng(1)
            ids = np.array([str(i) for i in range(n_items)], dtype=object)
            vecs = rng.normal(size=(n_items, 32)).astype(np.float32)
            emb = Embedding(vecs, ids, rng.normal(size=(n_items, 32)).astype(np.float32))
            model = Scored(emb=emb, scoring="in_out", weights=alone)
            ref_hr, ref = _reference_hr(db, emb)
            for bound in (None, PipelineConfig().evaluate.max_cases):
                cfg = PipelineConfig.model_validate(
                    {
                        "evaluate": {"max_cases": bound, "diagnostics": False},
                        "export": {"scoring": "in_out", "item_weights": alone.model_dump()},
                    }
                )
                start = time.perf_counter()
                metrics = compute_metrics(db, model, cfg, work=Path(tmp))
                ours = time.perf_counter() - start
                hr = metrics["models"]["item2vec"][f"hr@{K}"]
                if bound is None:
                    assert abs(hr - ref_hr) < 1e-9, (hr, ref_hr)
                rows.append(
                    {
                        "test_events": n_test,
                        "max_cases": bound or "all",
                        "test_pairs scored": metrics["test_pairs"],
                        "items": n_items,
                        "evaluate_s": round(ours, 2),
                        "numpy_model_hr_only_s": round(ref, 2),
                        "ratio": round(ours / ref, 2),
                        "hr": round(hr, 4),
                        "reference hr (all pairs)": round(ref_hr, 4),
                    }
                )
    return rows


if __name__ == "__main__":
    for row in main(quick=True):
        print(row)
