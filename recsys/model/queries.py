"""`similar` and `recommend`: what the published run answers, verified before it is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys.errors import UsageError
from recsys.layout import ITEM_RECS, SIMILAR_FILES, USER_RECS
from recsys.model import index
from recsys.model.embedding import Embedding
from recsys.model.store import current_run, verify


def similar(data_dir: Path, item_id: str, k: int) -> list[dict]:
    """Nearest items to `item_id` from the published index under the run's scoring, never
    itself (raw model neighbours: the business rules shape `item_recs.parquet`). An item
    without a vector gets its exported cold-start list instead, labelled by `source`."""
    run = current_run(data_dir)
    manifest = verify(run, hashed=set(SIMILAR_FILES))
    scoring = manifest["config"]["export"]["scoring"]
    emb = Embedding.load(run)
    row = emb.rows([item_id])[0]
    if row < 0:
        return _cold_item(run, item_id, k)
    queries, _ = emb.spaces(scoring)
    scores, ids = index.neighbours_without_self(
        index.load(run), queries, np.array([row], dtype=np.int64), k
    )
    return [
        {"rank": r + 1, "item_id": str(emb.item_ids[i]), "score": float(s)}
        for r, (s, i) in enumerate(zip(scores[0], ids[0], strict=True))
        if i >= 0
    ]


def _cold_item(run: Path, item_id: str, k: int) -> list[dict]:
    verify(run, hashed={ITEM_RECS})
    table = pq.read_table(run / ITEM_RECS, filters=[("item_id", "=", item_id)])
    if table.num_rows == 0:
        raise UsageError(f"item '{item_id}' is not in the published model ({run.name})")
    rows = sorted(table.to_pylist(), key=lambda r: r["rank"])[:k]
    return [
        {"rank": r["rank"], "item_id": r["neighbor_id"], "score": r["score"], "source": r["source"]}
        for r in rows
    ]


def recommend(data_dir: Path, user_id: str, k: int) -> list[dict]:
    """The user's exported recommendations from the published run."""
    run = current_run(data_dir)
    verify(run, hashed={USER_RECS})
    table = pq.read_table(run / USER_RECS, filters=[("user_id", "=", user_id)])
    if table.num_rows == 0:
        raise UsageError(f"user '{user_id}' has no recommendations in {run.name}")
    table = table.sort_by("rank").filter(pc.less_equal(table.sort_by("rank")["rank"], k))
    return table.select(["rank", "item_id", "score", "source"]).to_pylist()
