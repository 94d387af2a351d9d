"""The HTTP API in process (Starlette's TestClient) over a run the pipeline published with
every business rule on: each route, the export's lists and rules, errors, metrics."""

from __future__ import annotations

import gc
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from helpers import FAST, SERVED_BLOCKLIST, run_cli
from recsys.data.synthetic import group_of
from recsys.layout import runs_dir
from recsys.model import queries
from recsys.model.store import current_run
from recsys.serve import recall
from recsys.serve.app import create_app
from recsys.serve.limits import Limits
from recsys.serve.metrics import Metrics
from recsys.serve.model import load_run
from recsys.serve.swap import ModelHolder

pytestmark = pytest.mark.prefect  # the published run comes from a pipeline run

LIMITS = Limits(max_k=200, max_id_chars=64, max_ids=40, max_body_bytes=4096)


def number(item_id: str) -> int:
    return int(item_id.split("-i")[1]) if "-i" in item_id else 1  # 'new-1'


def category(item_id: str) -> int:
    return number(item_id) % 3


def price(item_id: str) -> float:
    return 10.0 + number(item_id)


@pytest.fixture(scope="module")
def api(served_data):
    metrics = Metrics()
    holder = ModelHolder(served_data, metrics)
    assert holder.poll()  # what the watcher thread does first (the lifespan is not run here)
    return TestClient(create_app(holder, metrics, LIMITS)), current_run(served_data)


def by_key(path: Path, key: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in sorted(pq.read_table(path).to_pylist(), key=lambda r: (r[key], r["rank"])):
        out.setdefault(row[key], []).append(row)
    return out


def test_similar_ranks_live_what_the_export_wrote(api):
    """The live ranking (the export's channels, depth, fusion and rules, one query at a
    time) gives every item the top of its item_recs.parquet list, scores and sources
    included; GET /similar answers those lists (an item without a vector: its fallback)."""
    client, run = api
    live = load_run(run, lists=False)  # what `recsys similar` loads: nothing precomputed
    assert live.items is None
    exported = by_key(run / "item_recs.parquet", "item_id")
    assert "new-1" in exported and len(exported) > 150
    for item, rows in exported.items():
        for k in (1, 10, 50):
            want = rows[:k]
            got = recall.similar(live, item, k)
            assert [i["item_id"] for i in got] == [r["neighbor_id"] for r in want], item
            assert [i["source"] for i in got] == [r["source"] for r in want]
            assert [i["rank"] for i in got] == list(range(1, len(want) + 1))
            assert [i["score"] for i in got] == pytest.approx([r["score"] for r in want], 1e-5)
            if k == 10:
                answer = client.get(f"/similar/{item}", params={"k": k})
                assert answer.status_code == 200, answer.text
                body = answer.json()
                assert body["run_id"] == run.name and body["item_id"] == item
                assert body["items"] == got


def test_similar_beyond_the_export_continues_its_list(api):
    """k above export.k: the exported list first, unchanged (a deeper search alone would
    rescale the channels and reorder near-ties), then more items, scores never rising."""
    client, run = api
    live = load_run(run, lists=False)
    depth = live.cfg.k
    exported = by_key(run / "item_recs.parquet", "item_id")
    # The rules (served_data has them all on) leave most lists shorter than export.k.
    longer = [item for item, rows in exported.items() if item != "new-1" and len(rows) > 10]
    assert len(longer) >= 20
    grew = 0
    for item in longer[:40]:
        got = recall.similar(live, item, depth + 20)
        ids = [i["item_id"] for i in got]
        stored = [r["neighbor_id"] for r in exported[item]]
        assert ids[: len(stored)] == stored, item
        assert len(set(ids)) == len(ids) and item not in ids
        grew += len(ids) > len(stored)
        scores = [i["score"] for i in got]
        assert all(a >= b for a, b in itertools.pairwise(scores)), item
        assert [i["rank"] for i in got] == list(range(1, len(got) + 1))
    assert grew > 0  # a deeper search finds more that pass the rules
    answer = client.get(f"/similar/{longer[0]}", params={"k": depth + 20}).json()["items"]
    assert answer == recall.similar(live, longer[0], depth + 20)


def test_similar_applies_the_rules_and_exclude(api, served_data):
    client, _ = api
    item = "g6-i150"  # category 0, price 160: the rules keep items 70-199 of category 0
    first = client.get(f"/similar/{item}", params={"k": 30}).json()["items"]
    assert first and item not in {i["item_id"] for i in first}
    for i in first:
        assert i["item_id"] not in SERVED_BLOCKLIST
        assert category(i["item_id"]) == category(item)
        assert abs(price(i["item_id"]) - price(item)) <= 0.5 * price(item)
    dropped = [first[0]["item_id"], first[2]["item_id"]]
    params = [("k", "5"), *(("exclude", d) for d in dropped)]
    again = client.get(f"/similar/{item}", params=params).json()["items"]
    kept = [i["item_id"] for i in first if i["item_id"] not in dropped][:5]
    assert [i["item_id"] for i in again] == kept
    assert [i["rank"] for i in again] == [1, 2, 3, 4, 5]
    live = recall.similar(load_run(current_run(served_data), lists=False), item, 5, dropped)
    assert live == again


def test_exclude_never_shortens_a_list_the_catalogue_can_fill(served_data):
    """A stored list of exactly k entries (here the run's lists cut to 5, k 5): excluding
    one of them still answers k items - ranked live at the export's depth - never the
    item itself or the excluded one."""
    model = load_run(current_run(served_data))
    start, stop = model.items.start, model.items.stop
    long = [i for i in model.emb.item_ids.tolist() if stop[model.row(i)] - start[model.row(i)] > 6]
    assert len(long) >= 10
    listed = start >= 0
    stop[listed] = np.minimum(stop, start + 5)[listed]
    for item in long[:20]:
        full = recall.similar(model, item, 5)
        assert len(full) == 5
        dropped = full[0]["item_id"]
        answer = recall.similar(model, item, 5, [dropped])
        assert len(answer) == 5, (item, answer)
        assert {item, dropped}.isdisjoint(i["item_id"] for i in answer)


def test_user_lists_and_the_unknown_user(api, served_data):
    client, run = api
    exported = by_key(run / "user_recs.parquet", "user_id")
    for user in sorted(exported)[:20]:
        body = client.get(f"/recommend/{user}", params={"k": 7}).json()
        assert body["run_id"] == run.name and body["user_id"] == user
        assert [i["item_id"] for i in body["items"]] == [r["item_id"] for r in exported[user][:7]]
    user = sorted(exported)[0]
    skipped = exported[user][0]["item_id"]
    body = client.get(f"/recommend/{user}", params={"k": 3, "exclude": skipped}).json()
    assert [i["item_id"] for i in body["items"]] == [r["item_id"] for r in exported[user][1:4]]
    nobody = client.get("/recommend/nobody-at-all", params={"k": 5})
    assert nobody.status_code == 200
    items = nobody.json()["items"]
    assert len(items) == 5 and {i["source"] for i in items} == {"popularity"}
    assert not {i["item_id"] for i in items} & set(SERVED_BLOCKLIST)
    counts = [i["score"] for i in items]
    assert counts == sorted(counts, reverse=True)
    # The command line answers an unknown user the same way, not with an error.
    cli = queries.recommend(served_data, "nobody-at-all", 5)
    assert [(i["item_id"], i["source"]) for i in cli] == [
        (i["item_id"], i["source"]) for i in items
    ]


def test_session_recall_exclude_unknown_and_because(api):
    """Two planted groups in one session (same category, so the rules keep both): each
    recommendation is because of the given item of its own group; given items, `exclude`
    and blocked items never come back; unknown ids are listed."""
    client, run = api
    given = ["g6-i150", "g3-i99"]  # both category 0; price 160 and 109 (the anchor's)
    answer = client.post(
        "/recommend", json={"items": ["zz-unknown", 42, *given], "k": 12, "exclude": ["g6-i126"]}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["run_id"] == run.name
    assert body["unknown"] == ["zz-unknown", "42"]
    items = body["items"]
    assert len(items) == 12 and [i["rank"] for i in items] == list(range(1, 13))
    returned = {i["item_id"] for i in items}
    assert not returned & {*given, "g6-i126", *SERVED_BLOCKLIST}
    anchor = given[-1]  # the latest item anchors the attribute rules
    assert all(category(i) == category(anchor) for i in returned)
    assert all(abs(price(i) - price(anchor)) <= 0.5 * price(anchor) for i in returned)
    assert {i["because"] for i in items} == set(given)
    for i in items:
        if group_of(i["item_id"]) in (3, 6):
            assert group_of(i["because"]) == group_of(i["item_id"]), i
    assert {group_of(i["item_id"]) for i in items[:5]} == {3, 6}
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)


def test_sessions_the_model_cannot_place(api):
    """No known item: the popularity fallback, within the anchor's category when the rule
    is on ('new-1' has attributes but no vector); no anchor at all (an empty session):
    plain popularity. An anchor without attributes keeps nothing, as in the export."""
    client, _ = api
    body = client.post("/recommend", json={"items": ["nope-1", "new-1"], "k": 4}).json()
    assert body["unknown"] == ["nope-1", "new-1"]
    # Category 1 within 50% of price 11: items 1 and 4 only.
    assert [i["item_id"] for i in body["items"]] == ["g1-i1", "g4-i4"]
    assert [i["source"] for i in body["items"]] == ["popularity:same_attribute"] * 2
    assert all(i["because"] is None for i in body["items"])
    empty = client.post("/recommend", json={"items": []}).json()
    assert [i["source"] for i in empty["items"]] == ["popularity"] * 10
    assert empty["unknown"] == []
    bare = client.post("/recommend", json={"items": ["g6-i150", "nope-1"]}).json()
    assert bare["items"] == [] and bare["unknown"] == ["nope-1"]


@pytest.mark.usefixtures("prefect_api")
def test_ties_rank_the_same_exported_and_live(tmp_path, planted_events):
    """The count channel alone (what a run may choose, evaluate.select_weights) scores many
    neighbours equal: the export keeps fusion's order among them (the smaller vocabulary
    row first), as the live ranking does, not the order of their ids."""
    data = tmp_path / "data"
    alone = ["export.item_weights.embedding=0", "export.item_weights.count=1"]
    sets = [a for kv in alone for a in ("--set", kv)]
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *sets) == 0
    run = current_run(data)
    live = load_run(run, lists=False)
    exported = by_key(run / "item_recs.parquet", "item_id")
    tied = 0
    for item, rows in exported.items():
        scores = [r["score"] for r in rows]
        tied += len(scores) - len(set(scores))
        got = recall.similar(live, item, len(rows))
        assert [i["item_id"] for i in got] == [r["neighbor_id"] for r in rows], item
    assert tied > 100  # the case this test is about


@pytest.mark.usefixtures("prefect_api")
def test_sym_in_out_serves_item_lists_as_in_out_everywhere(tmp_path, planted_events):
    """Under export.scoring=sym_in_out an item's list is its in_out neighbours (input
    vector against the context vectors), exported and answered live alike, while the
    manifest keeps the scoring for the server."""
    from recsys.model.embedding import Embedding

    data = tmp_path / "data"
    alone = ["export.scoring=sym_in_out", "export.item_weights.count=0"]
    alone += ["export.item_weights.popularity=0", "evaluate.select_weights=false"]
    sets = [a for kv in alone for a in ("--set", kv)]
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *sets) == 0
    run = current_run(data)
    live = load_run(run, lists=False)
    emb = Embedding.load(run)
    exported = by_key(run / "item_recs.parquet", "item_id")
    checked = 0
    for item in list(exported)[:40]:
        rows = exported[item]
        got = recall.similar(live, item, len(rows))
        assert [i["item_id"] for i in got] == [r["neighbor_id"] for r in rows], item
        row = emb.rows([item])[0]
        if row < 0:
            continue
        logits = emb.context @ emb.vectors[row]
        logits[row] = -np.inf
        order = np.argsort(-logits, kind="stable")
        if logits[order[4]] - logits[order[5]] > 1e-4:  # a clear top five
            assert {r["neighbor_id"] for r in rows[:5]} == set(emb.item_ids[order[:5]]), item
            checked += 1
    assert checked > 20


def test_k_beyond_the_catalogue_and_at_the_bound(api):
    client, _ = api
    everything = client.get("/similar/g6-i6", params={"k": 200}).json()["items"]
    assert 0 < len(everything) < 200 and "g6-i6" not in {i["item_id"] for i in everything}
    session = client.post("/recommend", json={"items": ["g6-i6"], "k": 200}).json()["items"]
    assert 0 < len(session) < 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("get", "/similar/not-an-item", None, 404, "item 'not-an-item' is not in run"),
        (
            "get",
            "/similar/g6-i6?k=0",
            None,
            422,
            "query.k: Input should be greater than or equal to 1",
        ),
        (
            "get",
            "/similar/g6-i6?k=201",
            None,
            422,
            "query.k: Input should be less than or equal to 200",
        ),
        ("get", "/similar/g6-i6?k=ten", None, 422, "query.k: Input should be a valid integer"),
        ("get", "/similar/g6-i6?kk=3", None, 422, "unknown parameter(s) kk"),
        ("get", "/similar/" + "x" * 65, None, 422, "path.item_id: String should have at most 64"),
        (
            "get",
            "/recommend/u1?" + "&".join(["exclude=a"] * 41),
            None,
            422,
            "query.exclude: List should have at most 40",
        ),
        ("get", "/similar/g6-i6?k=3&k=30", None, 422, "query.k: given 2 times"),
        ("post", "/recommend", b"{not json", 422, "body: Invalid JSON"),
        (
            "post",
            "/recommend",
            b'{"items": ["g6-i6"], "k": 3, "items": ["g1-i1"]}',
            422,
            'body: key "items" given twice',
        ),
        (
            "post",
            "/recommend",
            b'{"items": [{"a": 1, "a": 2}]}',
            422,
            'body: key "a" given twice',
        ),
        ("post", "/recommend", b'{"k": 3}', 422, "body.items: Field required"),
        (
            "post",
            "/recommend",
            b'{"items": "g6-i6"}',
            422,
            "body.items: Input should be a valid array",
        ),
        (
            "post",
            "/recommend",
            b'{"items": [], "k": -1}',
            422,
            "body.k: Input should be greater than or equal to 1",
        ),
        *(
            ("post", "/recommend", b'{"items": ["g1-i1"], "k": %s}' % k, 422, detail)
            for k, detail in (
                (b"true", "body.k: Input should be a valid integer"),
                (b'"7"', "body.k: Input should be a valid integer"),
                (b"3.0", "body.k: Input should be a valid integer"),
            )
        ),
        (
            "post",
            "/recommend",
            b'{"items": [], "colour": 1}',
            422,
            "body.colour: Extra inputs are not permitted",
        ),
        (
            "post",
            "/recommend",
            b'{"items": [null]}',
            422,
            "body.items.0: Input should be a valid string",
        ),
        (
            "post",
            "/recommend",
            json.dumps({"items": ["a"] * 41}).encode(),
            422,
            "body.items: List should have at most 40",
        ),
        (
            "post",
            "/recommend",
            json.dumps({"items": ["a" * 5000]}).encode(),
            413,
            "request body over 4096 bytes",
        ),
        ("get", "/nothing/here", None, 404, "Not Found"),
        ("delete", "/recommend", None, 405, "Method Not Allowed"),
        # An id is exactly what came: a final newline is part of it, not dropped.
        ("get", "/similar/g6-i6%0A", None, 404, "item 'g6-i6\n' is not in run"),
        ("get", "/similar/g6%0Ai6", None, 404, "item 'g6\ni6' is not in run"),
        ("post", "/recommend?k=3", b'{"items": ["g6-i6"]}', 422, "unknown parameter(s) k"),
    ],
)
def test_errors_are_json_with_a_clear_detail(api, method, path, body, status, detail):
    client, run = api
    kwargs = {"content": body, "headers": {"content-type": "application/json"}} if body else {}
    answer = client.request(method.upper(), path, **kwargs)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert detail in problem["detail"]
    assert problem["run_id"] == run.name  # also on a 413 refused before the body is read


def test_http_details_a_client_relies_on(api):
    client, _ = api
    assert client.put("/health").headers["allow"] == "GET, HEAD"  # both routes of the path
    assert client.delete("/recommend").headers["allow"] == "POST"
    body = b'{"items": ["g6-i6"], "k": 2}'
    # Whitespace around a Content-Length value is legal HTTP (it was read as "too large").
    answer = client.post("/recommend", content=body, headers={"content-length": f"{len(body)} "})
    assert answer.status_code == 200 and len(answer.json()["items"]) == 2


def test_health_ready_metrics(api):
    client, run = api
    assert client.get("/health").json() == {"status": "ok", "run_id": run.name}
    assert client.get("/ready").json()["run_id"] == run.name
    for path in ("/health", "/ready"):
        probe = client.head(path)
        assert probe.status_code == 200 and probe.content == b""
    client.get("/similar/g6-i6")
    client.get("/similar/not-an-item")
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    requests = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in families["recsys_serve_requests"].samples
        if s.name.endswith("_total")
    }
    assert requests[("GET", "/similar/{item_id}", "200")] >= 1
    assert requests[("GET", "/similar/{item_id}", "404")] >= 1
    buckets = [
        s
        for s in families["recsys_serve_request_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["route"] == "/similar/{item_id}"
    ]
    assert buckets and buckets[-1].labels["le"] == "+Inf" and buckets[-1].value >= 2
    info = families["recsys_serve_model_info"].samples
    assert [(s.labels["run_id"], s.value) for s in info] == [(run.name, 1.0)]
    assert families["recsys_serve_runs_refused"].samples[0].value == 0
    assert families["recsys_serve_swaps"].samples[0].value == 1


def test_docs_and_run_reports(api):
    client, run = api
    assert "swagger" in client.get("/docs").text.lower()
    spec = client.get("/openapi.json").json()
    assert {"/similar/{item_id}", "/recommend/{user_id}", "/recommend"} <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/similar/{item_id}"]["get"]["parameters"]}
    assert params == {"item_id", "k", "exclude"}
    assert "requestBody" in spec["paths"]["/recommend"]["post"]
    # client generators key their functions by operationId: each must be unique
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)), ids
    report = client.get(f"/runs/{run.name}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.content == (run / "report.html").read_bytes()
    image = client.get(f"/runs/{run.name}/report/embedding_map.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    for bad in (
        f"/runs/{run.name}/report/manifest.json",  # not an image
        f"/runs/{run.name}/report/..%2Fmanifest.json",
        "/runs/..%2F..%2Fetc/report",
        "/runs/no-such-run/report",
    ):
        assert client.get(bad).status_code == 404, bad
    assert runs_dir(run.parent.parent) == run.parent
    stray = run.parent / "not-a-run"  # a folder without a manifest is not a run
    stray.mkdir()
    try:
        (stray / "report.html").write_text("<html></html>")
        assert client.get("/runs/not-a-run/report").status_code == 404
    finally:
        shutil.rmtree(stray)


def test_nothing_published_is_not_ready(tmp_path):
    metrics = Metrics()
    holder = ModelHolder(tmp_path, metrics)
    assert not holder.poll()
    client = TestClient(create_app(holder, metrics))
    assert client.get("/health").json() == {"status": "ok", "run_id": None}
    for path in ("/ready", "/similar/a", "/recommend/u"):
        answer = client.get(path)
        assert answer.status_code == 503 and answer.json()["run_id"] is None
    assert client.head("/ready").status_code == 503
    assert client.post("/recommend", json={"items": ["a"]}).status_code == 503


def test_a_loaded_model_is_kept_out_of_the_collectors_sight(served_data):
    # A full collection walking the long-lived heap stalled every request for ~90 ms; the
    # holder freezes what is alive once a run is loaded (docs/serving.md, Measured).
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    holder = ModelHolder(served_data, Metrics())
    assert holder.poll()
    assert gc.get_freeze_count() > 10_000


def test_a_loaded_run_does_not_change_when_its_files_are_overwritten_in_place(
    served_data, tmp_path
):
    # A `cp` over a served run's file rewrites it in place (same inode): a memory-mapped
    # model answered differently under the same run_id, and a truncation killed the
    # server with SIGBUS. The model is read into memory once verified.
    run = tmp_path / current_run(served_data).name
    shutil.copytree(current_run(served_data), run)
    model = load_run(run, lists=False)
    before = recall.similar(model, "g6-i6", 10), recall.session(model, ["g6-i6", "g1-i1"], 10)
    for name in ("vectors.npy", "context_vectors.npy", "index.faiss"):
        size = (run / name).stat().st_size
        with open(run / name, "r+b") as handle:
            handle.seek(size // 2)
            handle.write(b"\x00" * (size - size // 2))
    after = recall.similar(model, "g6-i6", 10), recall.session(model, ["g6-i6", "g1-i1"], 10)
    assert after == before
    for name in ("vectors.npy", "index.faiss"):
        (run / name).write_bytes(b"")  # truncated: the loaded model still answers
    assert recall.similar(model, "g6-i6", 10) == before[0]


def test_a_current_link_that_loops_is_refused_once_and_the_old_run_serves(
    served_data, tmp_path, caplog
):
    data = tmp_path / "data"
    (data / "published").mkdir(parents=True)
    (data / "runs").symlink_to(runs_dir(served_data))
    link = data / "published" / "current"
    link.symlink_to(current_run(served_data))
    metrics = Metrics()
    holder = ModelHolder(data, metrics)
    assert holder.poll() and holder.model.run_id == current_run(served_data).name
    (data / "published" / "loop").symlink_to("current")
    link.unlink()
    link.symlink_to("loop")  # current -> loop -> current
    for _ in range(3):  # the watcher polls every second: one refusal, one log line
        assert not holder.poll()
    assert metrics.refused._value.get() == 1
    assert holder.model.run_id == current_run(served_data).name
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1
