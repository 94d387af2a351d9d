"""`similar` and `recommend`: what the published run answers, verified before it is read.

`similar` answers exactly what `GET /similar` does (recsys/serve/recall.py, on the run
loaded the way the server loads it, without the lists a server also keeps); `recommend`
reads the user's exported list, or answers an unknown user's fallback as `GET /recommend`.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys.errors import UsageError
from recsys.layout import USER_RECS
from recsys.model.store import current_run, verify
from recsys.serve import recall
from recsys.serve.model import load_run


def similar(data_dir: Path, item_id: str, k: int) -> list[dict]:
    """The item's k best neighbours under the run's fused scoring and business rules,
    never itself (the top of its `item_recs.parquet` list); an item without a vector gets
    its exported cold-start list, labelled by `source`."""
    run = current_run(data_dir)
    items = recall.similar(load_run(run, lists=False), item_id, k)
    if items is None:
        raise UsageError(f"item '{item_id}' is not in the published model ({run.name})")
    return [
        {"rank": i["rank"], "item_id": i["item_id"], "score": i["score"], "source": i["source"]}
        for i in items
    ]


def recommend(data_dir: Path, user_id: str, k: int) -> list[dict]:
    """The user's exported recommendations from the published run; a user the run does not
    know gets the popularity fallback, labelled by `source`, and a known user with nothing
    left to recommend no rows, as `GET /recommend` answers."""
    run = current_run(data_dir)
    verify(run, hashed={USER_RECS})
    table = pq.read_table(run / USER_RECS, filters=[("user_id", "=", user_id)])
    if table.num_rows == 0:
        items = recall.user(load_run(run, lists=False), user_id, k)
        return [{key: i[key] for key in ("rank", "item_id", "score", "source")} for i in items]
    table = table.sort_by("rank").filter(pc.less_equal(table.sort_by("rank")["rank"], k))
    return table.select(["rank", "item_id", "score", "source"]).to_pylist()
