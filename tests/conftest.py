"""Shared fixtures. The Prefect test harness (its own PREFECT_HOME and SQLite API) starts
once per session, and only for tests that run flows."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="recsys-prefect-home-")
os.environ["PREFECT_HOME"] = _HOME
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PYTHONHASHSEED", "0")

ML100K = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"
if ML100K.is_dir():
    os.environ.setdefault("RECSYS_ML100K_DIR", str(ML100K))

import pyarrow as pa  # noqa: E402
import pytest  # noqa: E402

from recsys.cli import main  # noqa: E402
from recsys.synth import generate, write  # noqa: E402

# Small, fast training for flow tests; the knobs are gensim's. On planted data the next item
# is drawn from its group's popularity, so co-occurrence is near the best possible predictor
# (HR@20 ~0.86 vs ~0.92 for item2vec): the default 10% lift over every baseline is out of
# reach there by construction, and 5% is asked instead.
FAST = ["--set", "train.epochs=5", "--set", "train.vector_size=32", "--set", "train.workers=1"]
FAST += ["--set", "gate.min_lift=0.05"]


@pytest.fixture(scope="session")
def prefect_api():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def planted_events(tmp_path_factory) -> Path:
    """20k events over 200 items in 8 disjoint co-occurring groups."""
    path = tmp_path_factory.mktemp("planted") / "events.parquet"
    return write(generate(20_000, 200, seed=7, noise=0.02), path)


@pytest.fixture(scope="session")
def ml100k() -> Path:
    if not ML100K.is_dir():
        pytest.skip(f"MovieLens-100K not found at {ML100K}")
    return ML100K


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


def events_csv(path: Path, rows: list[tuple], header: str = "user_id,item_id,timestamp") -> Path:
    """Write rows to a CSV file with the given header (values written verbatim)."""
    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)
