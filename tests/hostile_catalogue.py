"""The hostile-input catalogue (issue 15): commands, configs, paths and files a run must
refuse with one clear line and the contract's exit code, leaving the champion as it was.

`PREFLIGHT` cases are refused before Prefect starts (tests/hostile/test_hostile_cli.py runs
them through `recsys.cli.main` against a published champion); each builds its command
line in a scratch folder. Data cases live in tests/hostile/test_hostile_data.py. A case
is (arguments builder, exit code, regex of the one error line).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from recsys.layout import MANIFEST, RunPaths, current_link, runs_dir
from recsys.model.store import sha256_file, switch_current

CSV = "user_id,item_id,timestamp\nu1,i1,1700000000\nu1,i2,1700000060\n"


class Case(NamedTuple):
    args: Callable[[Path], list[str]]  # the command line, given a scratch folder
    code: int
    match: str


def _set(*items: str) -> Callable[[Path], list[str]]:
    return lambda d: ["run", "--events", _csv(d), *(a for i in items for a in ("--set", i))]


def _csv(d: Path, name: str = "e.csv") -> str:
    path = d / name
    path.write_text(CSV)
    return str(path)


def _text(d: Path, text: str, name: str = "e.csv") -> str:
    path = d / name
    path.write_text(text)
    return str(path)


def _config(text: str | bytes) -> Callable[[Path], list[str]]:
    def build(d: Path) -> list[str]:
        path = d / "c.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return ["run", "--events", _csv(d), "--config", str(path)]

    return build


def _file_at(data: Path, name: str) -> str:
    data.mkdir()
    (data / name).write_text("not a folder")
    return str(data)


def _made_dir(path: Path) -> Path:
    path.mkdir()
    return path


def _fifo(d: Path, name: str = "pipe.csv") -> str:
    os.mkfifo(d / name)
    return str(d / name)


def _socket(d: Path) -> str:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(d / "s.csv"))  # the socket file stays after the object is collected
    sock.close()
    return str(d / "s.csv")


def _events(build: Callable[[Path], str]) -> Callable[[Path], list[str]]:
    return lambda d: ["run", "--events", build(d)]


def _folder(*files: str, special: bool = False) -> Callable[[Path], str]:
    def build(d: Path) -> str:
        folder = d / "in"
        folder.mkdir()
        for name in files:
            (folder / name).write_text(CSV)
        if special:
            _fifo(folder, "part-9.csv")
        return str(folder)

    return build


def _loop(d: Path) -> str:
    (d / "loop").mkdir()
    (d / "loop" / "self").symlink_to(d / "loop")
    return str(d / "loop")


def _rollback_to(make: Callable[[Path, Path], str]) -> Callable[[Path], list[str]]:
    """`rollback --to` a name `make(scratch, data_dir)` returns (it may plant a folder)."""
    return lambda d: ["rollback", "--to", make(d, d / "data")]


def _planted_run(files: dict) -> Callable[[Path, Path], str]:
    def make(d: Path, data: Path) -> str:
        run = runs_dir(data) / "planted"
        run.mkdir(parents=True)
        (run / MANIFEST).write_text(json.dumps({"schema_version": 1, "files": files}))
        return "planted"

    return make


def _symlinked_run(d: Path, data: Path) -> str:
    outside = d / "elsewhere"
    outside.mkdir()
    (outside / MANIFEST).write_text(json.dumps({"files": {"a": {"sha256": "", "bytes": 0}}}))
    (runs_dir(data) / "linked").symlink_to(outside)
    return "linked"


# "Billion laughs": nine levels of nine aliases, ~600 bytes naming 9**9 values.
_BOMB = "\n".join(
    [
        "x:",
        '  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)),
        "train: {epochs: *l8}",
    ]
)


PREFLIGHT: dict[str, Case] = {
    # --- configuration values: finite, bounded, known keys (exit 2, the key named) ---
    "alpha inf (gensim segfault)": Case(_set("train.alpha=.inf"), 2, r"train\.alpha: .*finite"),
    "alpha nan": Case(_set("train.alpha=.nan"), 2, r"train\.alpha: .*finite"),
    "alpha negative": Case(_set("train.alpha=-1"), 2, r"train\.alpha: .*greater than 0"),
    "alpha above 1": Case(_set("train.alpha=5"), 2, r"train\.alpha: .*less than or equal to 1"),
    "window 1e10 (runs for minutes)": Case(_set("train.window=10000000000"), 2, r"train\.window"),
    "min_alpha above alpha (a rate that grows)": Case(
        _set("train.min_alpha=0.5"), 2, r"train: min_alpha \(0\.5\) must not exceed alpha"
    ),
    "timestamp format with an unknown code": Case(
        _set("extract.timestamp_format=%d-%Q"), 2, r"extract\.timestamp_format: .*%Q"
    ),
    "timestamp format with a zone": Case(
        _set("extract.timestamp_format=%Y-%m-%d %z"), 2, r"extract\.timestamp_format: .*UTC"
    ),
    "window 0": Case(_set("train.window=0"), 2, r"train\.window: .*greater than or equal to 1"),
    "date that does not exist": Case(
        _set("extract.test_start=2024-02-30"), 2, r"extract\.test_start: .*not a date: day"
    ),
    "no objective (negative 0, hs 0)": Case(
        _set("train.negative=0"), 2, r"config train: negative=0 needs hs=1"
    ),
    "one column for two roles": Case(
        _set("extract.columns.item_id=user_id"),
        2,
        r"extract\.columns: user_id and item_id both name column 'user_id'",
    ),
    "event weight 1e9 (corpus of 10 GB+)": Case(
        _set("extract.event_type_weights={click: 1000000000}"),
        2,
        r"event_type_weights must be integers 1\.\.100",
    ),
    "epochs 0": Case(_set("train.epochs=0"), 2, r"train\.epochs"),
    "epochs true (read as 1)": Case(
        _set("train.epochs=true"), 2, r"train\.epochs: must be a number"
    ),
    "ks holding false": Case(_set("evaluate.ks=[10,false]"), 2, r"evaluate\.ks: must hold numbers"),
    "epochs 1e5": Case(_set("train.epochs=100000"), 2, r"train\.epochs: .*less than"),
    "vector_size 1": Case(_set("train.vector_size=1"), 2, r"train\.vector_size"),
    "vector_size huge": Case(_set("train.vector_size=99999"), 2, r"train\.vector_size"),
    "seed -1": Case(_set("train.seed=-1"), 2, r"train\.seed: .*greater than or equal to 0"),
    "seed 2**32": Case(_set("train.seed=4294967296"), 2, r"train\.seed"),
    "ns_exponent nan": Case(_set("train.ns_exponent=.nan"), 2, r"train\.ns_exponent: .*finite"),
    "ns_exponent 1e308": Case(_set("train.ns_exponent=1e308"), 2, r"train\.ns_exponent"),
    "negative -1": Case(_set("train.negative=-1"), 2, r"train\.negative"),
    "negative 1000": Case(_set("train.negative=1000"), 2, r"train\.negative"),
    "sample 2": Case(_set("train.sample=2"), 2, r"train\.sample"),
    "sg 2": Case(_set("train.sg=2"), 2, r"train\.sg: Input should be 0 or 1"),
    "workers 0": Case(_set("train.workers=0"), 2, r"train\.workers"),
    "typo epoch": Case(
        _set("train.epoch=3"), 2, r"train\.epoch: unknown key; did you mean train\.epochs\?"
    ),
    "typo section": Case(_set("trian.epochs=3"), 2, r"trian: unknown key; did you mean train\?"),
    "typo nested": Case(
        _set("quality.drift.max_pscy=1"), 2, r"did you mean quality\.drift\.max_psi\?"
    ),
    "memory_limit lots": Case(
        _set("extract.memory_limit=lots"), 2, r"extract\.memory_limit: must be a size"
    ),
    "memory_limit injection": Case(
        _set("extract.memory_limit=2GB'; drop table x; --"), 2, r"extract\.memory_limit"
    ),
    "min_year 300000": Case(_set("extract.min_year=300000"), 2, r"extract\.min_year: .*9999"),
    "min_year at its old place": Case(
        _set("quality.min_year=300000"), 2, r"quality\.min_year moved to extract\.min_year"
    ),
    "future tolerance inf": Case(
        _set("extract.future_tolerance_hours=.inf"), 2, r"future_tolerance"
    ),
    "session gap 0": Case(_set("extract.session_gap_minutes=0"), 2, r"session_gap_minutes"),
    "session gap nan": Case(_set("extract.session_gap_minutes=.nan"), 2, r"session_gap_minutes"),
    "test_fraction 0.9": Case(_set("extract.test_fraction=0.9"), 2, r"extract\.test_fraction"),
    "test_fraction negative": Case(_set("extract.test_fraction=-0.1"), 2, r"test_fraction"),
    "empty delimiter": Case(_set('extract.csv_delimiter=""'), 2, r"extract\.csv_delimiter"),
    "NUL in a column name": Case(_set('extract.columns.user_id="a\\0b"'), 2, r"columns\.user_id"),
    "a column mapped to a name the file lacks": Case(
        _set("extract.columns.item_id=movieId"), 3, r"e\.csv: missing required column 'movieId'"
    ),
    "a header naming item_id twice": Case(
        _events(lambda d: _text(d, "user_id,item_id,item_id,timestamp\nu1,i1,i2,1700000000\n")),
        3,
        r"the header names column 'item_id' 2 times",
    ),
    "a malformed row": Case(
        _events(lambda d: _text(d, CSV + "u2,i3,1700000100,extra\n" + CSV.split("\n", 1)[1])),
        3,
        r"e\.csv: cannot be read as csv: line 4 has more fields than the header's 3",
    ),
    "empty column name": Case(_set('extract.columns.item_id=""'), 2, r"columns\.item_id"),
    "timestamp unit weeks": Case(_set("extract.timestamp_unit=weeks"), 2, r"timestamp_unit"),
    "ks [0]": Case(_set("evaluate.ks=[0]"), 2, r"evaluate\.ks: every K must be between 1 and 1000"),
    "ks []": Case(_set("evaluate.ks=[]"), 2, r"evaluate\.ks: every K must be between 1 and 1000"),
    "ks [5000]": Case(_set("evaluate.ks=[5000]"), 2, r"evaluate\.ks: every K"),
    "gate k 0": Case(_set("gate.k=0"), 2, r"gate\.k"),
    "gate min_hr 2": Case(_set("gate.min_hr=2"), 2, r"gate\.min_hr"),
    "gate min_lift nan": Case(_set("gate.min_lift=.nan"), 2, r"gate\.min_lift: .*finite"),
    "export k 0": Case(_set("export.k=0"), 2, r"export\.k"),
    "hnsw ef_search 1e9": Case(_set("export.hnsw_ef_search=1000000000"), 2, r"hnsw_ef_search"),
    "price gap without column": Case(_set("export.max_price_gap=0.3"), 2, r"needs price_column"),
    "task runner spark": Case(_set("ops.task_runner=spark"), 2, r"ops\.task_runner"),
    "dashboard not host:port": Case(_set("ops.dask_dashboard=everywhere"), 2, r"dask_dashboard"),
    "tune metric accuracy": Case(_set("tune.metric=accuracy"), 2, r"tune\.metric"),
    "keep_runs 1": Case(_set("publish.keep_runs=1"), 2, r"publish\.keep_runs"),
    "set without =": Case(_set("noequals"), 2, r"--set expects key=value"),
    "value for a section": Case(_set("train=3"), 2, r"config train: .*dictionary"),
    "unparseable YAML value": Case(
        _set("train.epochs=[1"), 2, r"--set train\.epochs: cannot parse"
    ),
    "moved runner key": Case(_set("tune.task_runner=dask"), 2, r"moved to ops\.task_runner"),
    "removed key": Case(_set("gate.min_lift_over_popularity=0.1"), 2, r"unknown key"),
    # --- config files ---
    "config is a directory": Case(
        lambda d: ["run", "--config", str(d)], 2, r"config file .* is a directory"
    ),
    "config is binary": Case(_config(bytes(range(256)) * 4), 2, r"is not UTF-8 text"),
    "config missing": Case(
        lambda d: ["run", "--config", str(d / "nope.yaml")], 2, r"config file not found"
    ),
    "config bad YAML": Case(
        _config("train:\n  epochs: [1,\n"), 2, r"is not valid YAML: .* at line \d+, column \d+$"
    ),
    "config tab indent": Case(_config("train:\n\tepochs: 3\n"), 2, r"is not valid YAML"),
    "config section twice": Case(
        _config("train:\n  epochs: 3\ntrain:\n  window: 5\n"),
        2,
        r"key 'train' given twice in one mapping at line 3, column 1$",
    ),
    "config a list": Case(_config("- a\n- b\n"), 2, r"must hold a mapping"),
    "config /dev/null": Case(
        lambda d: ["run", "--config", "/dev/null"], 2, r"config file /dev/null is not a regular"
    ),
    "config FIFO (would hang)": Case(
        lambda d: ["run", "--config", _fifo(d, "c.yaml")], 2, r"is not a regular file"
    ),
    "config 2 MB": Case(_config("# x\n" * 600_000), 2, r"bytes: not a config file"),
    "config unknown key": Case(_config("train:\n  epocs: 3\n"), 2, r"did you mean train\.epochs"),
    "config boolean for a number": Case(
        _config("gate:\n  k: yes\n"), 2, r"gate\.k: must be a number, not true/false"
    ),
    "config NaN value": Case(_config("train:\n  alpha: .nan\n"), 2, r"train\.alpha: .*finite"),
    "config billion laughs (hung)": Case(_config(_BOMB), 2, r"expands to more than 100,000"),
    "config nested 5000 deep": Case(
        _config("train: {epochs: " + "[" * 5000 + "]" * 5000 + "}\n"), 2, r"nested too deeply"
    ),
    "config key that is no name": Case(_config('"": 1\n'), 2, r"unknown key '' in the top"),
    "set key that is no name": Case(_set("1=5"), 2, r"a key is dotted names"),
    "set key with a dash": Case(_set("train.a-b=5"), 2, r"'train\.a-b': a key is dotted"),
    "tuned.yaml broken": Case(
        lambda d: [
            "run",
            "--events",
            _csv(d),
            "--data-dir",
            str(_tuned(d, "train: {window: -3}\n")),
        ],
        2,
        r"tuned\.yaml: config train\.window",
    ),
    # --- the command line itself ---
    "unknown option": Case(lambda d: ["run", "--bogus"], 2, r"No such option: --bogus"),
    "option without value": Case(lambda d: ["run", "--events"], 2, r"requires an argument"),
    "unknown command": Case(lambda d: ["frobnicate"], 2, r"No such command"),
    "similar without item": Case(lambda d: ["similar"], 2, r"Missing argument"),
    "similar -k 0": Case(lambda d: ["similar", "i1", "-k", "0"], 2, r"-k"),
    "similar -k abc": Case(lambda d: ["similar", "i1", "-k", "abc"], 2, r"valid integer"),
    "recommend -k 2**63": Case(lambda d: ["recommend", "u1", "-k", str(2**63)], 2, r"-k"),
    "generate --seed -1": Case(
        lambda d: ["generate", "--events", "9", "--seed", "-1", "--out", str(d / "x.csv")],
        2,
        r"--seed",
    ),
    "tune --trials 0": Case(lambda d: ["tune", "--trials", "0"], 2, r"--trials"),
    "backfill without start": Case(lambda d: ["backfill", "--end", "2024-01-02"], 2, r"--start"),
    "backfill bad date": Case(
        lambda d: ["backfill", "--start", "soon", "--end", "2024-01-02"], 2, r"--start"
    ),
    "generate 1 event": Case(
        lambda d: ["generate", "--events", "1", "--out", str(d / "x.csv")], 2, r"--events"
    ),
    "generate 10^9 events (built in memory: ~130 GB)": Case(
        lambda d: ["generate", "--events", str(10**9), "--out", str(d / "x.csv")],
        2,
        r"--events.*100000000",
    ),
    "generate into a folder": Case(
        lambda d: ["generate", "--events", "9", "--out", str(_made_dir(d / "dir.csv"))],
        2,
        r"dir\.csv is a folder; name a file",
    ),
    "task runner option spark": Case(lambda d: ["run", "--task-runner", "spark"], 2, "spark"),
    # --- rollback --to stays in runs/ and takes verified runs only ---
    "rollback to ../": Case(_rollback_to(lambda d, data: "../work"), 2, r"takes a run id"),
    "rollback to an absolute path": Case(_rollback_to(lambda d, data: str(d)), 2, r"run id"),
    "rollback to nothing": Case(_rollback_to(lambda d, data: "no-such-run"), 2, r"no run"),
    "rollback to an empty name": Case(_rollback_to(lambda d, data: ""), 2, r"takes a run id"),
    "rollback to a run listing no files": Case(
        _rollback_to(_planted_run({})), 2, r"lists no files"
    ),
    "rollback to a manifest leaving its folder": Case(
        _rollback_to(_planted_run({"../../x": {"sha256": "", "bytes": 0}})),
        2,
        r"outside the run folder",
    ),
    "rollback to a symlink out of runs/": Case(_rollback_to(_symlinked_run), 2, r"run id"),
    # --- the data directory ---
    # It was found by the flow, after the Prefect API had started (~10 s, a failed run).
    "backfill of an empty range": Case(
        lambda d: [
            "backfill",
            "--start",
            "2024-01-02",
            "--end",
            "2024-01-02",
            "--data-dir",
            str(d),
        ],
        2,
        r"backfill: start 2024-01-02 00:00:00 must be before end",
    ),
    "data dir is a file": Case(
        lambda d: ["run", "--data-dir", _csv(d, "f")], 2, r"is a file, not a directory"
    ),
    # Found only when the run, trained and exported, tried to switch `current` (a read-only
    # published/ fails the same probe, as a user other than root).
    "data dir's published/ is a file": Case(
        lambda d: ["run", "--data-dir", _file_at(d / "dd", "published")],
        2,
        r"--data-dir .*dd: published/ cannot be written",
    ),
    "data dir under a file": Case(
        lambda d: ["run", "--data-dir", _csv(d, "f") + "/sub"], 2, r"cannot be written"
    ),
    # --- events paths: only regular files, found before Prefect starts ---
    "events missing": Case(_events(lambda d: str(d / "no.csv")), 2, r"events file not found"),
    "events glob matching nothing": Case(_events(lambda d: str(d / "x-*.csv")), 2, "not found"),
    "events /dev/zero (would hang)": Case(
        _events(lambda d: "/dev/zero"), 2, r"'/dev/zero' is a character device"
    ),
    "events FIFO (would hang)": Case(_events(_fifo), 2, r"is a FIFO, not a regular file"),
    "events socket": Case(_events(_socket), 2, r"is a socket"),
    "events directory of FIFOs": Case(_events(_folder(special=True)), 2, r"part-9\.csv' is a FIFO"),
    "events directory with a FIFO among files": Case(
        _events(_folder("part-0.csv", special=True)), 2, r"is a FIFO"
    ),
    "events empty directory": Case(_events(_folder()), 2, r"holds no data files"),
    "events directory of markers only": Case(
        _events(_folder("_SUCCESS", "_committed_1", ".part-0.csv.crc")), 2, r"holds no data"
    ),
    "events directory mixing formats": Case(
        _events(_folder("a.csv", "b.jsonl")), 2, r"mixes formats"
    ),
    "events glob mixing formats (a Parquet file read as CSV)": Case(
        _events(lambda d: _folder("a.csv", "b.parquet")(d) + "/*"), 2, r"glob .* mixes formats"
    ),
    "events symlink loop only": Case(_events(_loop), 2, r"holds no data files"),
    "events unknown extension": Case(
        _events(lambda d: _csv(d, "e.xlsx")), 2, r"cannot tell the format"
    ),
    "events URL with a token, unknown format": Case(
        _events(lambda d: "https://bucket.example/e.xlsx?X-Amz-Signature=SECRET"),
        2,
        r"https://bucket\.example/e\.xlsx\?<redacted>",
    ),
    "events file:// missing": Case(_events(lambda d: f"file://{d}/no.csv"), 2, r"not found"),
    "attributes /dev/zero": Case(
        _set("evaluate.item_attributes.path=/dev/zero"), 2, r"item_attributes\.path .* regular"
    ),
    "attributes missing": Case(
        _set("evaluate.item_attributes.path=/nonexistent.csv"), 2, r"item_attributes\.path"
    ),
    "export attributes FIFO": Case(
        lambda d: [*_set()(d), "--set", f"export.item_attributes={_fifo(d, 'a.csv')}"],
        2,
        r"export\.item_attributes .* regular",
    ),
}


def _tuned(d: Path, text: str) -> Path:
    data = d / "tuned-data"
    data.mkdir()
    (data / "tuned.yaml").write_text(text)
    return data


def fake_champion(data: Path) -> Path:
    """A published run (vectors, vocab, index files, metrics) written with the store's own
    functions, so `current` verifies without training anything."""
    import faiss
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = RunPaths(data_dir=data, run_id="20240101T000000Z-champ")
    run = runs_dir(data) / paths.run_id
    run.mkdir(parents=True)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 4)).astype(np.float32)
    np.save(run / "vectors.npy", vectors)
    np.save(run / "context_vectors.npy", vectors)
    ids = [f"i{k}" for k in range(5)]
    pq.write_table(
        pa.table({"row": range(5), "item_id": ids, "count": [1] * 5}), run / "vocab.parquet"
    )
    index = faiss.IndexFlatIP(4)
    index.add(vectors)
    faiss.write_index(index, str(run / "index.faiss"))
    (run / "index.json").write_text(json.dumps({"kind": "flat", "recall": 1.0, "recall_k": 20}))
    (run / "metrics.json").write_text(json.dumps({"models": {}, "gate": {"passed": True}}))
    files = {
        p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in sorted(run.iterdir())
    }
    manifest = {"schema_version": 1, "run_id": paths.run_id, "files": files}
    manifest["config"] = {"export": {"scoring": "in_out"}}
    (run / MANIFEST).write_text(json.dumps(manifest))
    switch_current(data, paths.run_id)
    return data


def snapshot(data: Path) -> dict[str, str]:
    """Every file under runs/ and published/ with its sha256, and where `current` points:
    equal before and after a refused run means nothing was published or touched."""
    out = {"current": os.readlink(current_link(data)) if current_link(data).is_symlink() else ""}
    for top in ("runs", "published"):
        for path in sorted((data / top).rglob("*")):
            if path.is_file() and not path.is_symlink():
                out[str(path.relative_to(data))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
