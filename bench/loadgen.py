"""Open-loop HTTP load at a fixed rate, in its own process (bench/bench_serving.py runs it).

Request i is due at t0 + i/rate whatever the server does (no coordinated omission): it
goes out on a free keep-alive connection, and its latency is measured from when it was
due, so time spent waiting for a connection counts. HTTP/1.1 over asyncio streams, one
request per connection at a time; the bodies are only scanned for `"run_id"`.

    python bench/loadgen.py URL --rate 1000 --seconds 20 --kind similar --items 100000 \\
        --out result.json [--until STOP_FILE]

Writes {"sent", "ok", "failed", "errors", "seconds", "latencies_ms" (sorted), "order"}:
`order` holds, per answered request, (sent time, answer time, run id) for the swap check.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import re
import time
from urllib.parse import urlsplit

import uvloop

RUN_ID = re.compile(rb'"run_id":"([^"]*)"')


def request_bytes(kind: str, host: str, rng: random.Random, items: int) -> bytes:
    if kind == "similar":
        path = f"/similar/item-{rng.randrange(items)}?k=10"
        return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    session = [f"item-{rng.randrange(items)}" for _ in range(10)]
    body = json.dumps({"items": session, "k": 10}).encode()
    head = (
        f"POST /recommend HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def exchange(reader, writer, payload: bytes) -> tuple[int, bytes]:
    writer.write(payload)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def run(
    url: str, rate: float, seconds: float, kind: str, items: int, conns: int, until: str = ""
) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(conns):
        pool.put_nowait(await asyncio.open_connection(host, port))
    rng = random.Random(0)
    total = int(rate * seconds)
    latencies, order, errors = [], [], {}
    # The clock: time.monotonic (uvloop's loop.time() counts whole milliseconds).
    clock = time.monotonic
    start = clock() + 0.05

    async def one(i: int, payload: bytes) -> None:
        due = start + i / rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        reader, writer = await pool.get()
        sent = clock()
        try:
            status, body = await exchange(reader, writer, payload)
        except Exception as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            writer.close()
            pool.put_nowait(await asyncio.open_connection(host, port))
            return
        pool.put_nowait((reader, writer))
        done = clock()
        if status != 200:
            errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
            return
        latencies.append((done - due) * 1000)
        found = RUN_ID.search(body)
        order.append((sent - start, done - start, found.group(1).decode() if found else ""))

    payloads = [request_bytes(kind, f"{host}:{port}", rng, items) for _ in range(total)]
    began = time.perf_counter()
    tasks = []
    for i in range(total):
        # Create tasks a little ahead of their time, so memory stays bounded on long runs.
        ahead = start + i / rate - clock() - 0.5
        if ahead > 0:
            await asyncio.sleep(ahead)
        if until and i % 50 == 0 and os.path.exists(until):
            total = i  # asked to stop: the requests sent so far are the run
            break
        tasks.append(asyncio.ensure_future(one(i, payloads[i])))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    return {
        "sent": total,
        "ok": len(latencies),
        "failed": total - len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "latencies_ms": sorted(latencies),
        "order": sorted(order),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--kind", choices=["similar", "session"], default="similar")
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--out", required=True)
    parser.add_argument("--until", default="", help="stop early once this file exists")
    args = parser.parse_args()
    # uvloop: the generator's own overhead per request is about half of asyncio's, so on
    # a 2-core machine it takes less of the CPU the server needs.
    uvloop.install()
    # The generator keeps every payload, latency and answer for the run: its collector would
    # walk them all every few seconds and stall the clock that measures the server (pauses
    # of ~100 ms, counted as the server's latency). A run's garbage fits in memory.
    gc.disable()
    result = asyncio.run(
        run(args.url, args.rate, args.seconds, args.kind, args.items, args.connections, args.until)
    )
    with open(args.out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
