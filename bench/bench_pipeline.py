"""The whole pipeline against a raw-library script doing the same work (bench/raw_pipeline.py).

Both run as subprocesses on the same synthetic events with the same training knobs (the
project's defaults, with epochs and workers set below for both), so the ratio prices what
orchestration, quality checks, evaluation, the refit, manifests and atomic publishing add.
`recsys run` talks to an already running Prefect server (as a deployment does); on tiny
input it is also measured cold (starting Prefect's ephemeral API itself, as a laptop run
does). The raw script and `recsys run` alternate (raw, project, raw, project, ...) so that
a busy shared machine slows both alike; the ratio is of the medians. Peak RSS is each
process tree's maxrss.

Two event distributions: `synthetic` (recsys/data/synthetic.py as is: uniform topics,
Zipf 1.1 inside a topic) and `zipf` (Zipf 1.0 over topics and 1.4 inside them: a heavy head,
long sessions on a few items).

Goals (issue 18): whole run <= 1.0x the raw script at 10M events and <= 1.25x at 1M; fixed
overhead on tiny input <= 5 s over it with a running server; peak RSS at 10M <= the
script's; 1M -> 10M cost <= 10x.

    python bench/bench_pipeline.py [--sizes 20000,1000000] [--dists synthetic,zipf]
        [--items 50000] [--repeat 2] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from recsys.config import TrainConfig
from recsys.data.synthetic import generate, write

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
EPOCHS, WORKERS = 5, 2
DISTRIBUTIONS = {"synthetic": {}, "zipf": {"skew": 1.4, "topic_skew": 1.0}}
MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:]).returncode; "
    "print('MEASURE', rc, time.perf_counter() - t, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of a command run in its own process tree."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *cmd], env=env, capture_output=True, text=True
    )
    line = [x for x in done.stdout.splitlines() if x.startswith("MEASURE")][-1].split()
    if line[1] != "0":
        raise RuntimeError(f"{cmd[0]} failed: {done.stderr[-2000:]}")
    return float(line[2]), float(line[3]) / 1024, done.stdout


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(180):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return server
        except OSError:
            time.sleep(1)
    server.kill()
    raise RuntimeError("prefect server did not start")


def raw_knobs() -> dict:
    """The project's default training knobs, for the raw script (gensim's names)."""
    knobs = TrainConfig().gensim_kwargs(200)
    knobs.update(epochs=EPOCHS, workers=WORKERS)
    return knobs


def one_size(
    n_events: int, n_items: int, dist: str, root: Path, api_url: str, repeat: int, sets: list
) -> list[dict]:
    table = generate(n_events, n_items, seed=3, **DISTRIBUTIONS[dist])
    events = write(table, root / "ev.parquet")
    del table
    env = dict(os.environ, PYTHONHASHSEED="0", PREFECT_HOME=str(root / "home"))
    raw_cmd = [sys.executable, str(HERE / "raw_pipeline.py"), str(events), str(root / "raw")]
    raw_cmd.append(json.dumps(raw_knobs()))
    knobs = ["--set", f"train.epochs={EPOCHS}", "--set", f"train.workers={WORKERS}"]
    # Timing, not model quality: on planted data the count baselines are near-optimal, so
    # the gate may refuse; publish anyway (the verdict stays in the manifest).
    knobs += ["--set", "gate.enforce=false", *[a for kv in sets for a in ("--set", kv)]]
    modes = [("warm API", {"PREFECT_API_URL": api_url})] * repeat
    if n_events <= 100_000:
        modes.append(("cold API", {}))
    rows, raws = [], []
    for i, (mode, extra) in enumerate(modes):
        raw_s, raw_rss, out = measure(raw_cmd, env)
        raw_stages = dict(kv.split("=") for kv in out.split("MEASURE")[0].split()[-3:])
        raws.append((raw_s, raw_rss))
        data = root / f"data-{i}"
        cmd = [str(BIN / "recsys"), "run", "--events", str(events), "--data-dir", str(data)]
        seconds, rss, _ = measure([*cmd, *knobs], env | extra)
        manifest = json.loads((data / "published" / "current" / "manifest.json").read_text())
        stages = {k: round(v["seconds"], 1) for k, v in manifest["stages"].items()}
        index = manifest.get("index", {})
        rows.append(
            {
                "events": n_events,
                "dist": dist,
                "items": n_items,
                "run": f"recsys run ({mode})",
                "seconds": round(seconds, 1),
                "raw s": round(raw_s, 1),
                "ratio": round(seconds / raw_s, 2),
                "overhead s": round(seconds - raw_s, 1),
                "RSS MiB": round(rss),
                "raw RSS MiB": round(raw_rss),
                **stages,
                "index": index.get("kind", ""),
                **{f"raw {k}": round(float(v), 1) for k, v in raw_stages.items()},
            }
        )
        shutil.rmtree(data, ignore_errors=True)
    warm = [r for r in rows if r["run"] == "recsys run (warm API)"]
    if len(warm) > 1:
        ours = statistics.median(r["seconds"] for r in warm)
        raw = statistics.median(s for s, _ in raws[: len(warm)])
        rows.append(
            {
                "events": n_events,
                "dist": dist,
                "items": n_items,
                "run": f"median of {len(warm)} (warm API)",
                "seconds": round(ours, 1),
                "raw s": round(raw, 1),
                "ratio": round(ours / raw, 2),
                "overhead s": round(ours - raw, 1),
                "RSS MiB": max(r["RSS MiB"] for r in warm),
                "raw RSS MiB": round(max(m for _, m in raws)),
            }
        )
    return rows


def main(quick: bool = False, argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=None, help="comma-separated event counts")
    parser.add_argument("--dists", default="synthetic,zipf", help="synthetic, zipf")
    parser.add_argument("--items", type=int, default=50_000, help="catalogue of the big logs")
    parser.add_argument("--repeat", type=int, default=2, help="warm-API runs per size")
    parser.add_argument("--set", action="append", default=[], help="key=value for recsys run")
    args, _ = parser.parse_known_args(argv if argv is not None else [])
    default = "20000,200000" if quick else "20000,1000000"
    sizes = [int(s) for s in (args.sizes or default).split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        port = 4297 + os.getpid() % 500
        server = start_server(root / "server-home", port)
        try:
            rows = []
            for dist in args.dists.split(","):
                for n in sizes:
                    folder = root / f"{dist}-{n}"
                    folder.mkdir()
                    items = 1_000 if n <= 100_000 else args.items
                    url = f"http://127.0.0.1:{port}/api"
                    rows += one_size(n, items, dist, folder, url, args.repeat, args.set)
                    shutil.rmtree(folder, ignore_errors=True)
        finally:
            server.terminate()
    return rows


if __name__ == "__main__":
    from run import print_table

    print_table("pipeline vs raw script", main(argv=sys.argv[1:]))
