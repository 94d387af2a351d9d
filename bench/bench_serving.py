"""`recsys serve` under load: a 100k-item published run, the server in its own process on
loopback, real HTTP load generators; then session recall quality over HTTP on ml-100k.

The run folder is written with the project's own writers (numpy vectors, the export's
`index.build_tuned` + `index.save` with the default config: `sym` scoring, the automatic
index kind (IVF-Flat when it reaches the recall target, else exact), Parquet lists,
sha256 manifest, `store.switch_current`): 100k items x 64 dims in 1,000 clusters, 50
count-channel neighbours per item (5M rows), 100k users x 20 exported recommendations,
100k items x 50 exported neighbours (random picks: a lookup costs the same).
Synthetic vectors are fine here: latency does not depend on what the vectors mean.

Measured, each bounded in time:

- `GET /similar` (random items, k=10) at 1,000 req/s offered, open loop (bench/loadgen.py:
  latency from when each request was due, so queueing counts), goal p99 <= 10 ms;
- `POST /recommend` with 10-item random sessions at 500 req/s offered, goal p99 <= 20 ms;
- the highest sustained throughput of each: `wrk` (closed loop, 16 connections, Lua
  scripts for random ids and POST bodies) when installed, else loadgen at 3,000 req/s;
- 10 swaps of `current` (hard-linked copies of the run under new ids; the next switch once
  the server answers with the new run, plus 2 s) during a 500 req/s `GET /similar` load:
  failed requests (goal 0) and answers whose `run_id` is older than one the client had
  already received before sending (goal 0);
- session recall quality: ml-100k is cut at the 90% time quantile (bench/recall_scorer.py,
  the protocol of bench/bench_recall.py); `recsys run` publishes a model of the past, and
  every next event of a future session is asked of `POST /recommend` with the session so
  far (k=20). Its HR@20 is compared with the whole-prefix baselines (SR over the last
  items, session-kNN; best parameters in hindsight) on the same cases, and reported beside
  the session metrics the evaluate stage wrote (metrics.json -> session_models: the model
  and the best whole-prefix baseline on the run's own held-out split). Goal: HR@20 >= the
  best whole-prefix baseline.

`--quick` uses 20k items, shorter runs and skips the ml-100k part. ml-100k is read from
RECSYS_ML100K_DIR when set (else fetched once, see recsys/data/movielens.py).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # recall_scorer, bench_recall

from recsys.config import PipelineConfig
from recsys.layout import (
    CONTEXT_VECTORS,
    COUNT_LISTS,
    ITEM_RECS,
    MANIFEST,
    USER_RECS,
    VECTORS,
    VOCAB,
    runs_dir,
)
from recsys.model import index, store

HERE = Path(__file__).resolve().parent
RUN = "bench-000"
SIMILAR_LUA = """
math.randomseed(1)
request = function()
  return wrk.format("GET", "/similar/item-" .. math.random(0, {n} - 1) .. "?k=10")
end
"""
SESSION_LUA = """
math.randomseed(2)
request = function()
  local ids = {{}}
  for i = 1, 10 do ids[i] = '"item-' .. math.random(0, {n} - 1) .. '"' end
  local body = '{{"items":[' .. table.concat(ids, ",") .. '],"k":10}}'
  return wrk.format("POST", "/recommend", {{["Content-Type"] = "application/json"}}, body)
end
"""


def names(prefix: str, ids: np.ndarray) -> pa.Array:
    """'prefix<i>' strings for integer ids, built in Arrow (millions of them)."""
    uniq = np.arange(int(ids.max()) + 1)
    dictionary = pa.array([f"{prefix}{i}" for i in uniq.tolist()], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(ids, pa.int32()), dictionary).cast(pa.string())


def build_run(data: Path, n: int, dim: int = 64, per_item: int = 50, users: int | None = None):
    """A published run of n items (see the module docstring); returns its folder."""
    rng = np.random.default_rng(0)
    run = runs_dir(data) / RUN
    run.mkdir(parents=True)
    cluster = np.arange(n) % 1000
    centers = rng.normal(size=(1000, dim)).astype(np.float32)
    vectors = centers[cluster] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
    context = centers[cluster] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
    np.save(run / VECTORS, vectors)
    np.save(run / CONTEXT_VECTORS, context)
    counts = (1e5 / (1 + np.arange(n)) ** 0.8).astype(np.int64) + 1
    item_ids = names("item-", np.arange(n))
    pq.write_table(
        pa.table({"row": np.arange(n), "item_id": item_ids, "count": counts}), run / VOCAB
    )
    cfg = PipelineConfig()
    queries, indexed = index.spaces(vectors, context, cfg.export.scoring)
    idx, info = index.build_tuned(queries, indexed, cfg.export.k, cfg.export)  # as export
    index.save(idx, run, info)
    src = np.repeat(np.arange(n), per_item)
    dst = (src + 1000 * rng.integers(1, n // 1000, size=len(src))) % n  # same cluster
    pq.write_table(
        pa.table(
            {
                "item_id": names("item-", src),
                "rank": np.tile(np.arange(1, per_item + 1), n),
                "neighbor_id": names("item-", dst),
                "score": np.tile(np.linspace(50, 1, per_item), n),
            }
        ),
        run / COUNT_LISTS,
    )
    users = users or n
    for name, key, item, width in (
        (USER_RECS, "user_id", "item_id", 20),
        (ITEM_RECS, "item_id", "neighbor_id", cfg.export.k),
    ):
        owners = np.repeat(np.arange(users if key == "user_id" else n), width)
        picked = rng.integers(0, n, len(owners))
        table = {
            key: names("user-" if key == "user_id" else "item-", owners),
            "rank": np.tile(np.arange(1, width + 1), len(owners) // width).astype(np.int32),
            item: names("item-", picked),
            "score": rng.random(len(owners)),
            "source": pa.array(["item2vec+sr"] * len(owners)),
        }
        pq.write_table(
            pa.table(table).sort_by([(key, "ascending"), ("rank", "ascending")]), run / name
        )
    write_manifest(run, cfg)
    store.switch_current(data, RUN)
    return run, info["kind"]


def write_manifest(run: Path, cfg: PipelineConfig) -> None:
    files = {
        p.name: {"sha256": store.sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(run.iterdir())
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {
        "schema_version": store.MANIFEST_VERSION,
        "run_id": run.name,
        "model_run": run.name,
        "config": cfg.model_dump(mode="json"),
        "files": files,
    }
    (run / MANIFEST).write_text(json.dumps(manifest))


def copy_run(data: Path, source: Path, run_id: str) -> None:
    """The same run under another id (hard links: nothing to copy)."""
    target = runs_dir(data) / run_id
    target.mkdir()
    for p in source.iterdir():
        if p.name != MANIFEST:
            os.link(p, target / p.name)
    manifest = json.loads((source / MANIFEST).read_text())
    (target / MANIFEST).write_text(json.dumps({**manifest, "run_id": run_id}))


class Server:
    """`recsys serve` in a subprocess on a free loopback port."""

    def __init__(self, data: Path, poll: float = 0.2, run_id: str = RUN) -> None:
        cmd = [sys.executable, "-m", "recsys", "serve", "--data-dir", str(data), "--port", "0"]
        cmd += ["--poll-seconds", str(poll)]
        self.log = open(data / "serve.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        self.url = re.search(r"http://\S+", line).group(0)
        self.wait_ready(run_id)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.loads(answer.read())

    def wait_ready(self, run_id: str | None = None, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/ready")["run_id"] == (run_id or RUN):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("server not ready")

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as answer:
            text = answer.read().decode()
        found = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(found.group(1)) if found else float("nan")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self.log.close()
        return code


def loadgen(url: str, rate: float, seconds: float, kind: str, n: int, tmp: Path) -> dict:
    out = tmp / f"load-{kind}-{rate:.0f}.json"
    cmd = [sys.executable, str(HERE / "loadgen.py"), url, "--rate", str(rate)]
    cmd += ["--seconds", str(seconds), "--kind", kind, "--items", str(n), "--out", str(out)]
    subprocess.run(cmd, check=True, timeout=seconds * 4 + 120)
    return json.loads(out.read_text())


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    return sorted_ms[min(len(sorted_ms) - 1, int(q / 100 * len(sorted_ms)))]


def fixed_rate_row(label: str, result: dict, rate: float, goal: str) -> dict:
    lat = result["latencies_ms"]
    return {
        "measure": label,
        "offered req/s": rate,
        "achieved req/s": round(result["ok"] / result["seconds"], 1),
        "p50 ms": round(percentile(lat, 50), 2),
        "p99 ms": round(percentile(lat, 99), 2),
        "max ms": round(lat[-1], 1) if lat else float("nan"),
        "failed": result["failed"],
        "goal": goal,
    }


def wrk_row(label: str, url: str, script: str, seconds: int, tmp: Path) -> dict:
    """Closed-loop maximum throughput with wrk (2 threads, 16 connections)."""
    path = tmp / f"{label.split()[0]}.lua"
    path.write_text(script)
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(path), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {q: _ms(re.search(rf"^\s+{q}%\s+(\S+)", out, re.M).group(1)) for q in (50, 99)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "measure": label,
        "offered req/s": "max (wrk -c16)",
        "achieved req/s": rate,
        "p50 ms": lat[50],
        "p99 ms": lat[99],
        "failed": int(errors.group(1)) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def swap_check(order: list, runs: list[str]) -> int:
    """Answers older than one the client had received before sending them."""
    gen = {run: i for i, run in enumerate(runs)}
    by_done = sorted(order, key=lambda o: o[1])
    late, newest, j = 0, -1, 0
    for sent, _, run in sorted(order):
        while j < len(by_done) and by_done[j][1] < sent:
            newest = max(newest, gen[by_done[j][2]])
            j += 1
        late += gen[run] < newest
    return late


def main(quick: bool = False) -> list[dict]:
    n = 20_000 if quick else 100_000
    seconds = 5 if quick else 20
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        data = Path(tmp) / "data"
        start = time.perf_counter()
        run, kind = build_run(data, n)
        built = time.perf_counter() - start
        server = Server(data)
        try:
            print(f"run of {n:,} items ({kind}) built in {built:.0f} s", file=sys.stderr)
            server.get("/similar/item-1?k=10")  # touch the mapped pages once
            result = loadgen(server.url, 1000, seconds, "similar", n, Path(tmp))
            rows.append(fixed_rate_row("GET /similar k=10", result, 1000, "p99 <= 10 ms"))
            result = loadgen(server.url, 500, seconds, "session", n, Path(tmp))
            rows.append(fixed_rate_row("POST /recommend 10 items", result, 500, "p99 <= 20 ms"))
            for label, kind_, script in (
                ("GET /similar k=10", "similar", SIMILAR_LUA),
                ("POST /recommend 10 items", "session", SESSION_LUA),
            ):
                if shutil.which("wrk"):
                    rows.append(wrk_row(label, server.url, script.format(n=n), seconds, Path(tmp)))
                else:
                    result = loadgen(server.url, 3000, seconds, kind_, n, Path(tmp))
                    rows.append(fixed_rate_row(label, result, 3000, "max throughput"))
            runs = [RUN] + [f"bench-{i:03d}" for i in range(1, 11)]
            for run_id in runs[1:]:
                copy_run(data, run, run_id)
            rows.append(swaps(server, data, runs, n, Path(tmp), 2.0))
        finally:
            code = server.stop()
        rows[-1]["exit status on SIGTERM"] = code
        for row in rows:
            row["items"] = n
            row["index"] = kind
        if not quick:
            rows += session_quality(Path(tmp))
    load = os.getloadavg()
    for row in rows:
        row["load avg (1 min) at end"] = round(load[0], 1)
    return rows


def swaps(server: Server, data: Path, runs: list[str], n: int, tmp: Path, every: float) -> dict:
    """10 switches of `current` while GET /similar runs at 500 req/s: each switch waits
    until the server answers `/ready` with the new run (every swap is served), then
    `every` seconds more; the load stops after the last (bounded: 10 minutes at most)."""
    out, stop = tmp / "load-swaps.json", tmp / "load-swaps.stop"
    cmd = [sys.executable, str(HERE / "loadgen.py"), server.url, "--rate", "500"]
    cmd += ["--seconds", "600", "--kind", "similar", "--items", str(n), "--out", str(out)]
    proc = subprocess.Popen([*cmd, "--until", str(stop)])
    time.sleep(every)
    began = time.perf_counter()
    for run_id in runs[1:]:
        store.switch_current(data, run_id)
        server.wait_ready(run_id, timeout=120)
        time.sleep(every)
    swapping = time.perf_counter() - began
    stop.touch()
    proc.wait(timeout=180)
    result = json.loads(out.read_text())
    row = fixed_rate_row("GET /similar during 10 swaps", result, 500, "0 failed, 0 older")
    row["answers older than seen"] = swap_check(result["order"], runs)
    row["run ids answered"] = len({o[2] for o in result["order"]})
    row["swaps (metric)"] = server.metric("recsys_serve_swaps_total")
    row["load s (mean)"] = round(
        server.metric("recsys_serve_load_seconds_sum")
        / server.metric("recsys_serve_load_seconds_count"),
        2,
    )
    row["swapping s"] = round(swapping, 1)
    return row


def session_quality(tmp: Path) -> list[dict]:
    """POST /recommend on ml-100k's future session prefixes against the whole-prefix
    baselines on the same cases, and the evaluate stage's own session metrics."""
    import recall_scorer as scorer
    from bench_recall import _cli, _events, _past_file

    from recsys.tasks.evaluate.gate import CHAMPION, EMBEDDING, MODEL

    source = _events("ml100k", tmp)
    log = scorer.read_log(str(source))
    future = scorer.cases(log.future)
    past = _past_file(source, log.cut, tmp / "ml100k-past.parquet")
    data = tmp / "ml100k-data"
    start = time.perf_counter()
    _cli("run", "--events", past, "--data-dir", data)
    trained = time.perf_counter() - start
    run = store.current_run(data)
    server = Server(data, run_id=run.name)
    try:
        start = time.perf_counter()
        lists = recommend_sessions(server.url, log.names, future, k=20)
        asked = time.perf_counter() - start
    finally:
        code = server.stop()
    ours = scorer.rates(scorer.hit_ranks(lists, future))
    base = scorer.session_baselines(log, future)
    best = max(base, key=lambda b: base[b]["hr@20"])
    evaluated = json.loads((run / "metrics.json").read_text())["session_models"]
    baselines = {b: v for b, v in evaluated.items() if b not in (MODEL, EMBEDDING, CHAMPION)}
    eval_best = max(baselines, key=lambda b: baselines[b]["hr@20"])
    return [
        {
            "measure": "POST /recommend, ml-100k future session prefixes (k=20)",
            "cases": len(future),
            "HR@20": round(ours["hr@20"], 4),
            "MRR@20": round(ours["mrr@20"], 4),
            "best whole-prefix baseline": f"{best} {base[best]['hr@20']:.4f}",
            "ratio": round(ours["hr@20"] / base[best]["hr@20"], 3),
            "goal": "HR@20 >= best baseline",
            "requests/s (4 clients)": round(len(future) / asked, 1),
            "pipeline s": round(trained, 1),
            "exit status on SIGTERM": code,
        },
        {
            "measure": "evaluate stage, same run (metrics.json session_models, held-out split)",
            "cases": json.loads((run / "metrics.json").read_text()).get("session_cases"),
            "HR@20": round(evaluated[MODEL]["hr@20"], 4),
            "MRR@20": round(evaluated[MODEL]["mrr@20"], 4),
            "best whole-prefix baseline": f"{eval_best} {baselines[eval_best]['hr@20']:.4f}",
            "ratio": round(evaluated[MODEL]["hr@20"] / baselines[eval_best]["hr@20"], 3),
        },
    ]


def recommend_sessions(url: str, names, cases: list, k: int, clients: int = 4) -> list:
    """For each (prefix, target) case, POST /recommend's items for the prefix (as codes)."""
    parts = urlsplit(url)
    code = {name: i for i, name in enumerate(names.tolist())}
    local = threading.local()

    def ask(case) -> list[int]:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        body = json.dumps({"items": [names[i] for i in case[0]], "k": k})
        local.conn.request("POST", "/recommend", body, {"Content-Type": "application/json"})
        answer = local.conn.getresponse()
        payload = json.loads(answer.read())
        if answer.status != 200:
            raise RuntimeError(f"POST /recommend answered {answer.status}: {payload}")
        return [code[i["item_id"]] for i in payload["items"] if i["item_id"] in code]

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(ask, cases))


if __name__ == "__main__":
    from run import print_table

    print_table("serving", main(quick="--quick" in sys.argv))
