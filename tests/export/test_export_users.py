"""User lists through the real flow: what a user has seen is never recommended, also items
of sessions too short to train on; a user's list does not depend on the users it was
batched with; the popularity fallback is the served model's order (the one `recsys serve`
falls back to)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from helpers import FAST, run_cli
from recsys.data.synthetic import generate, group_of
from recsys.serve import recall
from recsys.serve.model import load_run

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

DAY = 86_400


def _events(path: Path) -> Path:
    """The planted log (8 groups of co-occurring items) plus users whose answer is known:
    `lone` has only one-event sessions (a day apart), `mixed` a group-1 session (with an
    item seen once in the log) and, a day later, one more group-1 item on its own; a late
    burst makes `g5-i197` the most popular item of the whole log while the training split
    holds only the start of it (the last 10% of time is held out); `all` saw every item."""
    base = generate(20_000, 200, seed=7, noise=0.02)
    end = pc.max(base["timestamp"]).as_py()
    t0 = end - 30 * DAY
    rows = [
        ("lone", "g0-i0", t0),
        ("lone", "g0-i8", t0 + DAY),
        ("lone", "g0-i16", t0 + 2 * DAY),
        *[("mixed", f"g1-i{i}", t0 + 60 * n) for n, i in enumerate((1, 17, 25, 33, 41))],
        ("mixed", "cold-1", t0 + 300),  # once: below min_count, no vector
        ("mixed", "g1-i9", t0 + DAY),
        # `all` has seen every item: nothing is left to recommend to it
        *[("all", f"g{i % 8}-i{i}", t0 + 3 * DAY + (i // 20) * DAY + i) for i in range(200)],
    ]
    for n in range(1500):  # 3,000 events of g5-i197, all after the test cut
        rows += [(f"late{n}", "g5-i197", end + 10 + n), (f"late{n}", "g5-i189", end + 20 + n)]
    extra = pa.table(
        {
            "user_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "timestamp": pa.array([r[2] for r in rows], pa.int64()),
            "event_type": ["click"] * len(rows),
        }
    )
    pq.write_table(pa.concat_tables([base, extra]), path)
    return path


def _run(tmp_path: Path, events: Path, name: str, *more: str) -> Path:
    data = tmp_path / name
    knobs = ["--set", "train.min_count=2", "--set", "gate.enforce=false", *more]
    assert run_cli("run", "--events", events, "--data-dir", data, *FAST, *knobs) == 0
    return (data / "published" / "current").resolve()


def _lists(run: Path, name: str, key: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in (
        pq.read_table(run / name).sort_by([(key, "ascending"), ("rank", "ascending")]).to_pylist()
    ):
        out.setdefault(r[key], []).append(r)
    return out


def test_user_lists_never_repeat_what_the_user_saw(tmp_path, capsys):
    events = _events(tmp_path / "events.parquet")
    run = _run(tmp_path, events, "default")
    users = _lists(run, "user_recs.parquet", "user_id")

    lone = [r["item_id"] for r in users["lone"]]
    assert lone and not {"g0-i0", "g0-i8", "g0-i16"} & set(lone)
    # placed by its items although no session of it was trained on: its group leads
    assert sum(group_of(i) == 0 for i in lone[:5]) >= 4
    mixed = [r["item_id"] for r in users["mixed"]]
    assert mixed and not {"g1-i1", "g1-i17", "g1-i25", "g1-i33", "g1-i41", "g1-i9"} & set(mixed)
    assert "cold-1" not in mixed

    # Known but with nothing left: an empty answer, not the unknown user's popularity list.
    assert "all" not in users
    assert pq.read_table(run / "user_recs_empty.parquet")["user_id"].to_pylist() == ["all"]
    served = load_run(run)
    assert recall.user(served, "all", 10) == []
    assert [i["source"] for i in recall.user(served, "nobody", 3)] == ["popularity"] * 3
    capsys.readouterr()
    assert run_cli("recommend", "all", "--data-dir", run.parent.parent, "--json") == 0
    assert capsys.readouterr().out == ""
    assert run_cli("recommend", "nobody", "-k", "2", "--data-dir", run.parent.parent) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2

    # The same run with one user per batch: the vectors are the same, so must the lists be.
    single = _run(tmp_path, events, "single", "--set", "export.batch_size=1")
    assert np.array_equal(np.load(run / "vectors.npy"), np.load(single / "vectors.npy"))
    assert _lists(single, "user_recs.parquet", "user_id") == users

    # An item without a vector answers the popularity of the served (refit) model: g5-i197
    # first, though the training split saw only the start of its burst.
    vocab = pq.read_table(run / "vocab.parquet").to_pylist()
    served_order = [v["item_id"] for v in sorted(vocab, key=lambda v: (-v["count"], v["item_id"]))]
    assert served_order[0] == "g5-i197"
    cold = [r["neighbor_id"] for r in _lists(run, "item_recs.parquet", "item_id")["cold-1"]]
    assert cold == [i for i in served_order if i != "cold-1"][: len(cold)]
