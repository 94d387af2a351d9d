"""`recsys similar` / `recsys recommend` latency on a published run of 100k items.

A synthetic published run (100k items x 64 dims, the automatically chosen index, 100k users x 20
recommendations, a manifest with sha256 and sizes) is written, then each query is timed:

- as a fresh `python -m recsys ...` process (what a shell user waits for: interpreter,
  imports, manifest verification of the files read, index load, search), and
- in-process (verification + load + search, no interpreter start-up),

against the raw-library reference: one `faiss` search on an already loaded index.
`--quick` uses 20k items.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.config import ExportConfig, PipelineConfig
from recsys.layout import runs_dir
from recsys.model import index, queries, store


def fake_run(data: Path, n: int, dim: int = 64) -> str:
    rng = np.random.default_rng(0)
    run = runs_dir(data) / "bench-run"
    run.mkdir(parents=True)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    context = rng.normal(size=(n, dim)).astype(np.float32)
    np.save(run / "vectors.npy", vectors)
    np.save(run / "context_vectors.npy", context)
    ids = [f"item-{i}" for i in range(n)]
    pq.write_table(pa.table({"row": np.arange(n), "item_id": ids}), run / "vocab.parquet")
    # As export builds it (random vectors do not cluster: auto serves exact search).
    idx, info = index.build_tuned(vectors, context, 20, ExportConfig())
    index.save(idx, run, info)
    users = np.repeat([f"user-{u}" for u in range(n)], 20)
    recs = pa.table(
        {
            "user_id": users,
            "rank": np.tile(np.arange(1, 21), n),
            "item_id": rng.choice(ids, n * 20),
            "score": rng.random(n * 20),
            "source": ["item2vec:in_out"] * (n * 20),
        }
    )
    pq.write_table(recs, run / "user_recs.parquet")
    files = {
        p.name: {"sha256": store.sha256_file(p), "bytes": p.stat().st_size} for p in run.iterdir()
    }
    manifest = {"run_id": run.name, "config": PipelineConfig().model_dump(), "files": files}
    (run / "manifest.json").write_text(json.dumps(manifest))
    store.switch_current(data, run.name)
    return info["kind"]


def wall(args: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def main(quick: bool = False) -> list[dict]:
    n = 20_000 if quick else 100_000
    data = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    kind = fake_run(data, n)
    run = store.current_run(data)
    idx = index.load(run)
    query = np.load(run / "vectors.npy")[:1]
    start = time.perf_counter()
    for _ in range(100):
        idx.search(query, 11)
    raw = (time.perf_counter() - start) / 100
    start = time.perf_counter()
    queries.similar(data, "item-7", 10)
    similar_in = time.perf_counter() - start
    start = time.perf_counter()
    queries.recommend(data, "user-7", 10)
    recommend_in = time.perf_counter() - start
    py = [sys.executable, "-m", "recsys"]
    similar_cli = wall([*py, "similar", "item-7", "--data-dir", str(data)])
    recommend_cli = wall([*py, "recommend", "user-7", "--data-dir", str(data)])
    base = {"items": n, "index": kind, "raw faiss search ms": round(1000 * raw, 3)}
    return [
        {**base, "query": "similar", "in-process s": similar_in, "cli process s": similar_cli},
        {
            **base,
            "query": "recommend",
            "in-process s": recommend_in,
            "cli process s": recommend_cli,
        },
    ]


if __name__ == "__main__":
    for row in main(quick="--quick" in sys.argv):
        print(row)
