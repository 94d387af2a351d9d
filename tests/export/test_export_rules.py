"""Export business rules, cold start, fusion and the recall gate, through the real flow."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers import FAST, planted_attributes, run_cli
from recsys.data.synthetic import group_of

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


def current(data: Path) -> Path:
    return (data / "published" / "current").resolve()


def number(item_id: str) -> int:
    return int(item_id.split("-i")[1]) if "-i" in item_id else -1


def test_rules_apply_to_item_and_user_lists(tmp_path, planted_events, capsys):
    data = tmp_path / "data"
    attrs = planted_attributes(tmp_path / "attrs.parquet")
    blocked = ["g0-i8", "g1-i9"]
    rules = [
        f"export.item_attributes={attrs}",
        "export.same_attribute=category",
        "export.price_column=price",
        "export.max_price_gap=0.5",
        f"export.blocklist=[{', '.join(blocked)}]",
        "export.item_weights.count=1.0",
        "export.index_type=hnsw",
        # The fusion as configured (a run would check it against SR alone, which wins here).
        "evaluate.select_weights=false",
    ]
    args = [a for r in rules for a in ("--set", r)]
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *args) == 0
    run = current(data)
    category = {f"g{i % 8}-i{i}": i % 3 for i in range(200)} | {"new-1": 1}
    price = {f"g{i % 8}-i{i}": 10.0 + i for i in range(200)} | {"new-1": 11.0}
    items = pq.read_table(run / "item_recs.parquet").to_pylist()
    assert items
    for r in items:
        assert r["neighbor_id"] not in blocked and r["neighbor_id"] != r["item_id"]
        assert category[r["neighbor_id"]] == category[r["item_id"]]
        assert abs(price[r["neighbor_id"]] - price[r["item_id"]]) <= 0.5 * price[r["item_id"]]
    sources = {r["source"] for r in items}
    # Fused lists: items both channels proposed, and items only one did.
    assert "item2vec+sr" in sources and sources & {"item2vec", "sr"}
    assert sources <= {
        "item2vec",
        "sr",
        "item2vec+sr",
        "popularity:same_attribute",
        "item2vec+sr+popularity",
    }
    cold = [r for r in items if r["item_id"] == "new-1"]
    assert cold and {r["source"] for r in cold} == {"popularity:same_attribute"}
    assert all(category[r["neighbor_id"]] == 1 for r in cold)
    capsys.readouterr()
    assert run_cli("similar", "new-1", "-k", "3", "--data-dir", data, "--json") == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["item_id"] for a in answers] == [r["neighbor_id"] for r in cold[:3]]
    users = pq.read_table(run / "user_recs.parquet").to_pylist()
    assert users and not {r["item_id"] for r in users} & set(blocked)
    manifest = json.loads((run / "manifest.json").read_text())
    details = manifest["export"]
    assert details["item rule blocklist removed"] > 0
    assert details["item rule same_attribute removed"] > 0
    assert details["item rule price_gap removed"] > 0
    assert details["item rule self removed"] == 0  # the ANN search already drops self
    assert details["user rule seen removed"] > 0
    assert manifest["index"]["kind"] == "hnsw" and manifest["index"]["recall"] >= 0.95


def test_allowlist_and_plain_lists(tmp_path, planted_events):
    data = tmp_path / "data"
    allowed = [f"g{i % 8}-i{i}" for i in range(0, 200, 2)]
    allow = ["--set", f"export.allowlist=[{', '.join(allowed)}]"]
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *allow) == 0
    run = current(data)
    items = pq.read_table(run / "item_recs.parquet").to_pylist()
    users = pq.read_table(run / "user_recs.parquet").to_pylist()
    assert {r["neighbor_id"] for r in items} <= set(allowed)
    assert {r["item_id"] for r in users} <= set(allowed)
    # Even items sit in even groups: those groups still lead their own lists (odd groups
    # have no allowed member, so their lists must come from elsewhere).
    top3 = [r for r in items if r["rank"] <= 3 and group_of(r["item_id"]) % 2 == 0]
    assert all(group_of(r["neighbor_id"]) % 2 == 0 for r in items)
    same = sum(group_of(r["item_id"]) == group_of(r["neighbor_id"]) for r in top3)
    assert same / len(top3) > 0.9


def test_attribute_file_errors_are_usage_errors(tmp_path, planted_events):
    data = tmp_path / "data"
    attrs = planted_attributes(tmp_path / "attrs.parquet")
    bad = ["--set", f"export.item_attributes={attrs}", "--set", "export.same_attribute=colour"]
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *bad) == 2
    assert run_cli("run", "--set", "export.max_price_gap=0.2", "--data-dir", data) == 2
    assert not (data / "published").exists()


def test_recall_gate_refuses_a_poor_index(tmp_path, planted_events):
    data = tmp_path / "data"
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    champion = current(data)
    poor = [
        *("--set", "export.index_type=ivfpq", "--set", "export.ivf_nprobe=1"),
        *("--set", "export.pq_refine=false", "--set", "export.pq_m=2"),
    ]
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *poor) == 4
    assert current(data) == champion
    refused = sorted((data / "work").iterdir())[-1]
    assert "index recall gate refused" in (refused / "FAILED").read_text()
    info = json.loads((refused / "reports" / "index.json").read_text())
    assert info["kind"] == "ivfpq" and info["recall"] < 0.95
