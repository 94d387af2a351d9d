"""Fixtures and the test environment; shared helpers live in helpers.py.

The Prefect test harness (its own PREFECT_HOME and SQLite API) starts once per session, and
only for tests that run flows: those are marked `prefect` (checked below), so
`pytest -m "not prefect"` runs the others alone, without starting any Prefect API.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="recsys-prefect-home-")
# Removed when the test process ends, so repeated runs do not fill /tmp with Prefect homes.
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = _HOME
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PYTHONHASHSEED", "0")

# ../shared/datasets/ml-100k beside the checkout, or where RECSYS_ML100K_DIR points (a
# checkout elsewhere, e.g. a git worktree).
ML100K = Path(
    os.environ.get("RECSYS_ML100K_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k"
)
if ML100K.is_dir():
    os.environ.setdefault("RECSYS_ML100K_DIR", str(ML100K))

import pytest  # noqa: E402

from recsys.data.synthetic import generate, write  # noqa: E402


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
def served_data(tmp_path_factory, planted_events, prefect_api) -> Path:
    """A data dir holding one run that the pipeline published from the planted events (fast
    training), every business rule of the export on (helpers.served_rules). Shared by the
    serving tests: they read it, and copy its run elsewhere to change anything."""
    from helpers import FAST, planted_attributes, run_cli, served_rules

    root = tmp_path_factory.mktemp("served")
    rules = served_rules(planted_attributes(root / "attributes.parquet"))
    # The default weights, all three channels fused (a run choosing its weights may serve
    # the count channel alone on this easy log: some tests count on the embedding's depth).
    fixed = ["--set", "evaluate.select_weights=false"]
    data = root / "data"
    assert (
        run_cli("run", "--events", planted_events, "--data-dir", data, *FAST, *rules, *fixed) == 0
    )
    return data


@pytest.fixture(scope="session")
def ml100k() -> Path:
    if not ML100K.is_dir():
        pytest.skip(f"MovieLens-100K not found at {ML100K}")
    return ML100K


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts the Prefect API must say so (`@pytest.mark.prefect`), so that
    `-m "not prefect"` never starts one."""
    unmarked = [
        item.nodeid
        for item in items
        if "prefect_api" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("prefect") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests using the prefect_api fixture need @pytest.mark.prefect: " + ", ".join(unmarked)
        )
