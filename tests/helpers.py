"""Helpers shared by the tests: the CLI, planted event files, extract runs compared with a
full rebuild, the bad-input catalogue, planted item attributes, copies of a published run.
Fixtures live in conftest.py; no test module imports another.

The bad-input catalogue (`CASES`): each case builds a hostile events file and names the
error it must produce (exception class and a regex of its one-line message); the
stage-level tests (quality/test_quality.py) and the end-to-end CLI tests
(quality/test_quality_cli.py) share it, so a case is written once.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.cli import main
from recsys.config import ExtractConfig, PipelineConfig
from recsys.errors import DataQualityError, UsageError
from recsys.layout import MANIFEST, RunPaths, runs_dir
from recsys.tasks.extract import extract

T0 = 1_700_000_000  # 2023-11-14
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the clock of extract runs (the future bound)
DAY0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp())
HEADER = "user_id,item_id,timestamp,event_type"

# Small, fast training for flow tests (the knobs are gensim's); the gate keeps its defaults.
FAST = ["--set", "train.epochs=5", "--set", "train.vector_size=32", "--set", "train.workers=1"]


def artifact(key: str):
    """The latest artifact with this key from the test harness's Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas import filters
    from prefect.client.schemas.sorting import ArtifactSort

    # The sync client sends None for omitted filters, which the 3.8 server rejects.
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=filters.ArtifactFilter(key=filters.ArtifactFilterKey(any_=[key])),
            flow_run_filter=filters.FlowRunFilter(),
            task_run_filter=filters.TaskRunFilter(),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
            offset=0,
        )
    return found[0]


def run_cli(*args: str) -> int:
    return main([str(a) for a in args])


def events_csv(path: Path, rows: list[tuple], header: str = "user_id,item_id,timestamp") -> Path:
    """Write rows to a CSV file with the given header (values written verbatim)."""
    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows)


# --- extract runs ---


def run_extract(tmp_path, events, **extract_cfg):
    """Extract `events` with these extract settings into a new run under tmp_path/data."""
    cfg = PipelineConfig(extract=ExtractConfig(**extract_cfg))
    paths = RunPaths.new(tmp_path / "data", str(events))
    report = extract(paths, cfg, now=NOW)
    return paths, report


def sessions(paths, split=None):
    """The sessions of the stage (of one split), as lists of item ids in order."""
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        rows = con.execute(
            "select split, list(item_id order by pos) from events "
            "where $split is null or split = $split group by session, split order by session",
            {"split": split},
        ).fetchall()
    return [items for _, items in rows]


def stage(paths) -> dict:
    """Everything downstream reads, as comparable values."""
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        tables = {
            name: con.execute(f"select * from {name} order by all").fetchall()
            for name in ("typed_events", "valid_events", "sessionized_events", "events", "items")
        }
    return {**tables, "corpus": paths.corpus.read_text()}


def without_incremental(details: dict) -> dict:
    return {k: v for k, v in details.items() if k not in ("incremental", "source", "fingerprint")}


# --- incremental extract against a full rebuild (extract/test_extract_affected.py and
# extract/test_extract_differential.py) ---

AFFECTED_CFG = {"test_fraction": 0.2, "max_events_per_minute": 20, "duplicate_window_seconds": 5}


def base_rows() -> list[tuple]:
    """20 users with two sessions each on day 0, a duplicate and a row without a user."""
    rows = []
    for u in range(20):
        t = DAY0 + u * 60
        rows += [(f"u{u}", f"i{(u + k) % 7}", t + 20 * k, "view") for k in range(4)]
        rows += [(f"u{u}", f"i{(u + k) % 5}", t + 7200 + 30 * k, "click") for k in range(3)]
    rows += [("u2", "i2", DAY0 + 121, "view"), ("", "i1", DAY0 + 5, "view")]
    return rows


def write_part(folder, name: str, rows) -> None:
    """One partition folder `name` holding part-0.csv."""
    part = folder / name
    part.mkdir(parents=True, exist_ok=True)
    events_csv(part / "part-0.csv", rows, header=HEADER)


def run_affected(data, events, now=NOW, **overrides):
    """Extract `events` into `data` with AFFECTED_CFG (and `overrides`)."""
    cfg = PipelineConfig(extract=ExtractConfig(**{**AFFECTED_CFG, **overrides}))
    paths = RunPaths.new(data, str(events))
    return paths, extract(paths, cfg, now=now)


def full_rebuild(tmp_path, folder, now=NOW, **overrides):
    """The same files, copied, extracted in a fresh data dir."""
    copy = tmp_path / f"full-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(folder, copy)
    return run_affected(tmp_path / f"{copy.name}-data", copy, now=now, **overrides)


def assert_equal_to_full(paths, report, full_paths, full) -> None:
    assert stage(paths) == stage(full_paths)
    assert without_incremental(report.details) == without_incremental(full.details)


# --- the bad-input catalogue ---


def good_rows(n_users: int = 30, per_user: int = 8) -> list[tuple]:
    """Clean events: 30 users x 8 events over 40 items, one session per user."""
    return [
        (f"u{u}", f"i{(u * 3 + j) % 40}", T0 + u * 86_400 + j * 60)
        for u in range(n_users)
        for j in range(per_user)
    ]


def _csv_body(rows: list[tuple], header: str = "user_id,item_id,timestamp") -> str:
    return header + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows)


class Case(NamedTuple):
    build: Callable[[Path], Path]  # writes the input under the folder, returns the path
    error: type[Exception]
    match: str
    overrides: dict | None = None


def _rows(mutate: Callable[[list[tuple]], list[tuple]]) -> Callable[[Path], Path]:
    return lambda d: events_csv(d / "e.csv", mutate(good_rows()))


def _text(name: str, text: str | bytes) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        path = d / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path

    return build


def _nan_ids(d: Path) -> Path:
    rows = good_rows()
    item = [float(r[1][1:]) for r in rows] + [float("nan"), float("inf")]
    table = pa.table(
        {
            "user_id": [r[0] for r in rows] + ["u1", "u2"],
            "item_id": pa.array(item, pa.float64()),
            "timestamp": [r[2] for r in rows] + [T0, T0],
        }
    )
    pq.write_table(table, d / "e.parquet")
    return d / "e.parquet"


def _bot(d: Path) -> Path:
    """240 clean events plus one user with 1M events, 20 per second (built in numpy)."""
    n = 1_000_000
    rows = good_rows()
    rng = np.random.default_rng(0)
    users = np.concatenate([np.array([r[0] for r in rows]), np.full(n, "bot")])
    items = np.concatenate(
        [np.array([r[1] for r in rows]), np.char.add("i", rng.integers(0, 40, n).astype(str))]
    )
    ts = np.concatenate([np.array([r[2] for r in rows], float), T0 + np.arange(n) * 0.05])
    pq.write_table(pa.table({"user_id": users, "item_id": items, "timestamp": ts}), d / "e.parquet")
    return d / "e.parquet"


def _duplicates(rows: list[tuple]) -> list[tuple]:
    return rows + rows * 9  # 90% of the rows repeat an earlier one exactly


def _one_item(rows: list[tuple]) -> list[tuple]:
    # 80% of each user's events become "hot", interleaved so repeats are not consecutive.
    return [(u, "hot" if j % 5 else i, t) for j, (u, i, t) in enumerate(rows)]


def _rekeyed_at_cut(rows: list[tuple]) -> list[tuple]:
    # The last 5 days of users got new item ids: the training vocabulary covers no test item.
    return [(u, f"new-{i}" if t > T0 + 25 * 86_400 else i, t) for u, i, t in rows]


def _truncated_gz(d: Path) -> Path:
    (d / "e.csv.gz").write_bytes(gzip.compress((_csv_body(good_rows()) + "u9,i9").encode()))
    return d / "e.csv.gz"


def _mixed_dir(d: Path) -> Path:
    (d / "in").mkdir()
    events_csv(d / "in" / "a.csv", good_rows())
    (d / "in" / "b.jsonl").write_text("{}\n")
    return d / "in"


HOSTILE = {"user_id": 'u"; drop table events; --', "item_id": "it'em;", "timestamp": 't`s""'}


def _hostile_missing(d: Path) -> Path:
    header = ",".join(f'"{c}"' for c in (HOSTILE["user_id"].replace('"', '""'), "other", "ts"))
    return events_csv(d / "e.csv", good_rows(), header=header)


CASES: dict[str, Case] = {
    "empty file": Case(_text("e.csv", b""), DataQualityError, "the file is empty"),
    "header only": Case(_rows(lambda r: []), DataQualityError, "at least one data row"),
    "missing required column": Case(
        lambda d: events_csv(d / "e.csv", [(u, t) for u, _, t in good_rows()], "user_id,timestamp"),
        DataQualityError,
        "missing required column 'item_id'",
    ),
    "wrong delimiter (spaces)": Case(
        _text("e.csv", _csv_body(good_rows()).replace(",", " ")),
        DataQualityError,
        "read as one column of 25 characters",
    ),
    "non-UTF-8 bytes": Case(
        _text("e.csv", b"user_id,item_id,timestamp\nu1,\xff\xfe,1700000000\n"),
        DataQualityError,
        "cannot be read as csv: .*not utf-8 encoded",
    ),
    "null item_id": Case(
        _rows(lambda r: r[:5] + [("u1", "", T0)] + r[5:]), DataQualityError, "raw_events.null_ids"
    ),
    "blank user_id": Case(_rows(lambda r: r + [("  ", "i1", T0)]), DataQualityError, "null_ids"),
    "NaN/inf numeric item ids": Case(_nan_ids, DataQualityError, "null_ids.*NaN user_id/item_id"),
    "NaN timestamp": Case(
        _rows(lambda r: r + [("u1", "i1", "nan")]), DataQualityError, "does not parse"
    ),
    "inf timestamp": Case(
        _rows(lambda r: r + [("u1", "i1", "inf")]), DataQualityError, "does not parse"
    ),
    "unparseable timestamp": Case(
        _rows(lambda r: r + [("u1", "i1", "yesterday")]), DataQualityError, "timestamp_parse"
    ),
    "future timestamp": Case(
        _rows(lambda r: r + [("u1", "i1", 4_000_000_000)]), DataQualityError, "no_future"
    ),
    "1970 timestamp": Case(_rows(lambda r: r + [("u1", "i1", 5)]), DataQualityError, "no_ancient"),
    "milliseconds read as seconds": Case(
        _rows(lambda r: [(u, i, t * 1000) for u, i, t in r]),
        DataQualityError,
        "no_future.*milliseconds",
        {"extract": {"timestamp_unit": "s"}},
    ),
    "seconds read as milliseconds": Case(
        _rows(lambda r: r), DataQualityError, "no_ancient", {"extract": {"timestamp_unit": "ms"}}
    ),
    "bot user with 1M events": Case(_bot, DataQualityError, "sessions.bot_share"),
    "90% duplicate rows": Case(_rows(_duplicates), DataQualityError, "raw_events.duplicates"),
    "one item is 80% of events": Case(
        _rows(_one_item), DataQualityError, "raw_events.top_item_share"
    ),
    "unknown event type": Case(
        lambda d: events_csv(
            d / "e.csv",
            [(*r, "view" if k % 50 else "refund") for k, r in enumerate(good_rows())],
            "user_id,item_id,timestamp,event_type",
        ),
        DataQualityError,
        "raw_events.event_types",
        {"quality": {"allowed_event_types": ["view", "click"]}},
    ),
    "items re-keyed at the cut": Case(_rows(_rekeyed_at_cut), DataQualityError, "test_coverage"),
    "too few events": Case(_rows(lambda r: r[:16]), DataQualityError, "at least 100 usable"),
    "truncated mid-row (csv)": Case(
        _text("e.csv", _csv_body(good_rows()) + "u9,i9"),
        DataQualityError,
        r"line \d+ has fewer fields than the header's 3",
    ),
    "truncated mid-row (gzip)": Case(
        _truncated_gz, DataQualityError, r"line \d+ has fewer fields than the header's 3"
    ),
    "gzip that is not gzip": Case(
        _text("e.csv.gz", _csv_body(good_rows())), DataQualityError, "cannot be read as csv"
    ),
    "glob matching no file": Case(
        lambda d: d / "nothing-*.csv", UsageError, "events file not found"
    ),
    "directory of mixed formats": Case(_mixed_dir, UsageError, "mixes formats"),
    "hostile column names, one missing": Case(
        _hostile_missing,
        DataQualityError,
        "missing required column 'it'em;'",
        {"extract": {"columns": HOSTILE}},
    ),
}


# --- item attributes and published runs (export rules, serving) ---


def planted_attributes(path: Path) -> Path:
    """Attributes of the planted items: category = item number mod 3 (unrelated to the
    planted groups, so the rule bites); price = 10 + number. One catalogue item ('new-1')
    has no events at all."""
    ids = [f"g{i % 8}-i{i}" for i in range(200)] + ["new-1"]
    nums = [*range(200), 1]
    pq.write_table(
        pa.table(
            {
                "item_id": ids,
                "category": [f"c{n % 3}" for n in nums],
                "price": [10.0 + n for n in nums],
            }
        ),
        path,
    )
    return path


SERVED_BLOCKLIST = ["g0-i8", "g1-i9"]


def served_rules(attributes: Path) -> list[str]:
    """--set arguments turning on every business rule of the export: same category, a price
    gap of 50%, a blocklist (SERVED_BLOCKLIST)."""
    rules = [
        f"export.item_attributes={attributes}",
        "export.same_attribute=category",
        "export.price_column=price",
        "export.max_price_gap=0.5",
        f"export.blocklist=[{', '.join(SERVED_BLOCKLIST)}]",
    ]
    return [a for r in rules for a in ("--set", r)]


def copy_run(data: Path, source: Path, run_id: str, copied: tuple[str, ...] = ()) -> Path:
    """The published run `source` as runs/<run_id> of `data`: its files hard-linked (those
    named in `copied` copied, so a test may damage them), the manifest rewritten with the
    new id. Sub-folders (Data Docs) are left out: nothing served reads them."""
    target = runs_dir(data) / run_id
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file() and path.name != MANIFEST:
            if path.name in copied:
                shutil.copy2(path, target / path.name)
            else:
                os.link(path, target / path.name)
    manifest = json.loads((source / MANIFEST).read_text())
    (target / MANIFEST).write_text(json.dumps({**manifest, "run_id": run_id}))
    return target
