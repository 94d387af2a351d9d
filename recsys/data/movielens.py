"""The embedded default data set: MovieLens-100K, fetched once from a pinned PyPI wheel.

The files come out of `recbole==1.2.1` (member `recbole/dataset_example/ml-100k/`), checked
against pinned sha256 sums, and are converted to the events schema with DuckDB. The fetch
uses pip, so it goes through whatever index the machine's pip is configured for.
MovieLens data are GroupLens's, for research use with citation (Harper & Konstan 2015).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from recsys import sqlrun
from recsys.errors import UsageError
from recsys.layout import DATASET_EVENTS, DATASET_RAW, dataset_dir
from recsys.stage import logger

WHEEL = "recbole==1.2.1"
MEMBER_DIR = "recbole/dataset_example/ml-100k/"
SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}
NAME = "ml-100k"
INTER, ITEMS = "ml-100k.inter", "ml-100k.item"  # ratings; titles and genres
ENV_DIR = "RECSYS_ML100K_DIR"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verified(folder: Path) -> bool:
    return all((folder / n).is_file() and _sha256(folder / n) == h for n, h in SHA256.items())


def _fetch_wheel(raw: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "-q", "-d", tmp, WHEEL]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise UsageError(
                f"cannot fetch the default data set ({WHEEL}) from the package index: {last}. "
                f"Pass --events PATH, or set {ENV_DIR} to a folder holding ml-100k.inter"
            )
        raw.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name in SHA256:
                with wheel.open(MEMBER_DIR + name) as src, open(raw / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)


def ml100k_raw(data_dir: Path) -> Path:
    """A folder with the three verified MovieLens files (env folder, cache, or fetched)."""
    given = os.environ.get(ENV_DIR)
    if given:
        if not _verified(Path(given)):
            raise UsageError(f"{ENV_DIR}={given} does not hold the pinned ml-100k files")
        return Path(given)
    raw = dataset_dir(data_dir, NAME) / DATASET_RAW
    if not _verified(raw):
        logger().info("default data: fetching MovieLens-100K from %s", WHEEL)
        _fetch_wheel(raw)
        if not _verified(raw):
            raise UsageError(f"ml-100k files from {WHEEL} do not match their pinned sha256")
    return raw


def ml100k_events(data_dir: Path) -> Path:
    """Path of ml-100k as an events Parquet file, building it on first use."""
    out = dataset_dir(data_dir, NAME) / DATASET_EVENTS
    if out.is_file():
        return out
    raw = ml100k_raw(data_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with sqlrun.connect() as con:
        sqlrun.run(con, "data/movielens_events", {"path": str(raw / INTER), "out": str(tmp)})
    os.replace(tmp, out)
    return out
