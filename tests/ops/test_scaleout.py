"""Scale-out: sharded evaluate/export equal the unsharded stages, and a run on a real Dask
LocalCluster (2 worker processes) publishes the same files as the threads run."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers import FAST, artifact, run_cli
from recsys.config import PipelineConfig
from recsys.layout import RunPaths
from recsys.model.embedding import Embedding
from recsys.ops.scaleout import ranges, worker_id
from recsys.tasks.evaluate import compute_metrics
from recsys.tasks.evaluate.shards import Scored
from recsys.tasks.export import export
from recsys.tasks.export import shards as export_shards
from recsys.tasks.extract import extract
from recsys.tasks.train import train

# Small FAISS batches so the 200-item planted catalogue and its users span several batches,
# hence several shards (shards are cut at whole batches).
SMALL = {
    "export": {
        "batch_size": 16,
        "item_weights": {"embedding": 1.0, "count": 0.5, "popularity": 0.1},
        "blocklist": ["g0-i0", "g1-i1"],
    }
}


def test_ranges_cover_every_id_once_at_batch_starts():
    ids = [f"{i:03d}" for i in range(50)]
    cut = ranges(ids, 8, 3)  # 7 batches -> 3 per shard -> cuts at 24 and 48
    assert cut == [(None, "024"), ("024", "048"), ("048", None)]
    assert ranges(ids, 64, 4) == [(None, None)]  # one batch: one shard
    assert ranges([], 8, 2) == [(None, None)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, planted_events) -> tuple[RunPaths, PipelineConfig]:
    cfg = PipelineConfig.model_validate(
        SMALL | {"train": {"epochs": 3, "workers": 1}, "evaluate": {"search_batch": 16}}
    )
    paths = RunPaths.new(tmp_path_factory.mktemp("shards"), str(planted_events)).ensure()
    extract(paths, cfg)
    train(paths, cfg)
    return paths, cfg


def test_sharded_metrics_equal_unsharded(trained):
    paths, cfg = trained
    emb = Embedding.load(paths.out)
    model = Scored(emb=emb, scoring="in_out", weights=cfg.export.item_weights)
    one = compute_metrics(paths.stage_db, model, cfg)
    # A stand-in champion (the model itself, other scoring) is sharded the same way.
    champion = (model.model_copy(update={"scoring": "in_in"}), "champion-run")
    for shards in (3, 7):
        many = compute_metrics(paths.stage_db, model, cfg, champion, shards=shards)
        assert many["models"].pop("champion")["hr@20"] > 0
        many["session_models"].pop("champion")
        for task in ("item", "session"):
            many["paired"][task].pop("champion")
            one["paired"][task].pop("champion", None)
        many["slices"] = [s for s in many["slices"] if s["source"] != "champion"]
        many.pop("champion")
        assert many == one  # exact: shards return integer counts
    assert one["test_pairs"] > 1000 and one["models"]["item2vec"]["hr@20"] > 0.5


def test_sharded_export_files_equal_unsharded(trained, monkeypatch):
    """Shards (item and user ranges) and, inside a shard, user parts built one after the
    other (a memory bound) write the unsharded files row for row."""
    paths, cfg = trained
    files, parts = {}, []
    cut = export_shards.user_parts

    def counted(*args):
        found = cut(*args)
        parts.append(len(found))
        return found

    monkeypatch.setattr(export_shards, "user_parts", counted)
    for shards, users_per_part in ((1, None), (4, None), (1, 32), (4, 32)):
        if users_per_part:  # 2 batches of 16 users a part: several parts per shard
            monkeypatch.setattr(export_shards, "USERS_PER_PART", users_per_part)
            parts.clear()
        report = export(paths, cfg, shards=shards)
        assert report.details["shards"] == shards
        files[shards, users_per_part] = [
            pq.read_table(paths.out / name) for name in ("item_recs.parquet", "user_recs.parquet")
        ]
        rules = {k: v for k, v in report.details.items() if "removed" in k or "rows" in k}
        files[shards, users_per_part].append(rules)
        assert not (paths.work_dir / "export-shards").exists()
        if users_per_part:
            assert max(parts) > 1, parts  # a shard's users were built in several parts
    one = files[1, None]
    assert one[0].num_rows > 1000 and one[1].num_rows > 1000
    assert one[2]["item rule blocklist removed"] > 0
    for key, other in files.items():
        assert other[0].equals(one[0]) and other[1].equals(one[1]), key
        assert other[2] == one[2], key


def _workers(stage: str) -> set[str]:
    """Where the last run's shards of `stage` ran, from its stage artifact in the API."""
    data = artifact(f"recsys-{stage}").data
    return set(re.search(r"\| shard workers \| ([^|]+) \|", data).group(1).strip().split(", "))


def _published(data: Path) -> dict:
    run = (data / "published" / "current").resolve()
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.pop("evaluated_at")
    manifest = json.loads((run / "manifest.json").read_text())
    return {
        "item_recs": pq.read_table(run / "item_recs.parquet"),
        "user_recs": pq.read_table(run / "user_recs.parquet"),
        "metrics": metrics,
        "shards": manifest["export"]["shards"],
    }


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_dask_local_cluster_publishes_what_threads_publish(tmp_path, planted_events):
    small = ["--set", "export.batch_size=16", "--set", "evaluate.search_batch=16"]
    out = {}
    for runner in ("threads", "dask"):
        data = tmp_path / runner
        args = ["run", "--events", planted_events, "--data-dir", data, *FAST, *small]
        # dask: a LocalCluster of 2 single-threaded worker *processes* (the default).
        assert run_cli(*args, "--task-runner", runner, "--set", "ops.dask_workers=2") == 0
        out[runner] = _published(data)
    assert out["threads"]["shards"] == 1 and out["dask"]["shards"] == 2
    assert os.environ["PYTHONHASHSEED"] == "0"  # Dask's nanny did not leak its env here
    here = worker_id()  # the flow ran in this process; the shards on the cluster's workers
    for stage in ("evaluate", "export"):
        assert _workers(stage) and here not in _workers(stage), stage
    for key in ("item_recs", "user_recs"):
        assert out["dask"][key].equals(out["threads"][key]), key
    assert out["dask"]["metrics"] == out["threads"]["metrics"]


SEARCH = """
import sys, numpy as np
from recsys.model import index
index.search_threads(int(sys.argv[2]) if len(sys.argv) > 2 else None)
rng = np.random.default_rng(1)
base, queries = rng.standard_normal((20000, 64), "f4"), rng.standard_normal((4096, 64), "f4")
np.save(sys.argv[1], index.search(index.build_exact(base), queries, 20)[0])
"""


def test_a_worker_pinned_to_the_flow_threads_scores_alike(tmp_path):
    # A Dask worker process starts with OMP_NUM_THREADS=1; FAISS's BLAS splits a batch by
    # thread count, so the shards pin the flow process's count (index.search_threads).
    import subprocess
    import sys

    import numpy as np

    from recsys.model import index

    env = dict(os.environ, OMP_NUM_THREADS="1")
    here, worker = tmp_path / "here.npy", tmp_path / "worker.npy"
    subprocess.run([sys.executable, "-c", SEARCH, str(here)], check=True)
    threads = str(index.search_threads())
    subprocess.run([sys.executable, "-c", SEARCH, str(worker), threads], env=env, check=True)
    assert np.array_equal(np.load(here), np.load(worker))
