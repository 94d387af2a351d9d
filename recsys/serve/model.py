"""A published run loaded for serving: verified against its manifest, then opened read-only.

Every file is read into memory once verified, none is memory-mapped: a served model must
not change its answers under the same `run_id`, or die of SIGBUS, when a file of its run is
overwritten or truncated in place (a `cp` over it). Nothing is unpickled and nothing is
written. No Python object per exported row (100k users x 50 rows would be
millions): user lists and the fallback lists of items without a vector stay Arrow tables
found by binary search, the model's item lists become arrays by vocabulary row (`GET
/similar` reads them, recsys/serve/lookup.py).

What a load checks (`load_run`): the manifest lists the model and the index (a manifest
that lists nothing is refused), each listed file has its recorded size, and the files read
match their sha256; then the configuration the run was exported with is read from the
manifest (`export.*`: weights, depths, history, rules), so a run is served the way it was
exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys.config import ExportConfig, PipelineConfig, migrate_config
from recsys.errors import PublishError
from recsys.layout import (
    COUNT_LISTS,
    INDEX_FILE,
    ITEM_ATTRIBUTES,
    ITEM_RECS,
    MODEL_FILES,
    SERVED_LISTS,
    SERVING_FILES,
    USER_RECS,
    USER_RECS_EMPTY,
)
from recsys.model import index
from recsys.model.embedding import Embedding
from recsys.model.published import channels_of
from recsys.model.scoring import Channels
from recsys.model.store import read_manifest, verify
from recsys.serve.lookup import KeyedRows, RowLists
from recsys.serve.rules import Rules

LIST_COLUMNS = ["rank", "item", "score", "source"]  # an exported list, renamed for answers


@dataclass
class ServedModel:
    """One verified run, ready to answer (see recsys/serve/recall.py)."""

    run_id: str
    run: Path
    manifest: dict
    cfg: ExportConfig
    emb: Embedding
    channels: Channels
    rules: Rules
    popular: np.ndarray  # rows by training count desc, item id asc: the export's fallback order
    users: KeyedRows | None  # user_recs.parquet
    emptied: KeyedRows | None  # user_recs_empty.parquet: known users with nothing left
    items: RowLists | None  # item_recs.parquet lists of the model's items
    cold: KeyedRows | None  # item_recs.parquet rows of items without a vector

    @property
    def names(self) -> tuple[str, str, str]:
        """The channels' `source` labels (recsys.model.scoring.source_labels)."""
        return ("item2vec", self.cfg.count_channel, "popularity")

    @property
    def n_items(self) -> int:
        return len(self.emb)

    def row(self, item_id: str) -> int:
        """The item's vocabulary row, -1 when the model has no vector for it."""
        return self.emb.row(item_id)

    def cold_list(self, item_id: str) -> pa.Table | None:
        """The exported list of an item without a vector (its labelled fallback), or None.
        A model loaded without its lists (`recsys similar`) reads the file for this one id."""
        if self.cold is not None:
            return self.cold.rows(item_id)
        if ITEM_RECS not in self.manifest["files"]:
            return None
        verify(self.run, hashed={ITEM_RECS})
        found = _list_table(self.run / ITEM_RECS, "item_id", "neighbor_id", item_id)
        return KeyedRows(found, "key").rows(item_id) if found.num_rows else None

    def user_list(self, user_id: str) -> pa.Table | None:
        """The user's exported rows; no rows for a user the run knows but has nothing left
        to recommend to (every candidate seen or ruled out); None for a user it does not
        know. A model loaded without its lists (`recsys recommend`) reads the empty-list
        file for this one id."""
        rows = None if self.users is None else self.users.rows(user_id)
        if rows is not None:
            return rows
        if self.emptied is not None:
            known = self.emptied.position(user_id) is not None
        elif self.users is None and USER_RECS_EMPTY in self.manifest["files"]:
            verify(self.run, hashed={USER_RECS_EMPTY})
            where = [("user_id", "=", user_id)]
            known = pq.read_table(self.run / USER_RECS_EMPTY, filters=where).num_rows > 0
        else:
            known = False
        return _no_rows() if known else None


# What a run must list to be served; the other files are read (and hashed) when listed: a
# run exported before the count channel, the attributes file or without its lists is
# served without them (no count channel, no attribute rules, lists ranked live).
REQUIRED = (*MODEL_FILES, INDEX_FILE)


def served_files(manifest: dict, lists: bool) -> set[str]:
    """The files a load reads (and hashes): the model and the index, the index settings,
    the count channel and the rules' attributes when the run lists them, and with `lists`
    the exported lists it lists."""
    wanted = set(SERVING_FILES) | (set(SERVED_LISTS) if lists else set())
    listed = manifest.get("files", {})
    return {name for name in wanted if name in listed or name in REQUIRED}


def load_run(run: Path, lists: bool = True) -> ServedModel:
    """Verify and load the run in folder `run`; PublishError when it is refused.

    `lists` also loads the exported lists (a server); without them (`recsys similar`) only
    what a live item list reads is hashed and loaded."""
    run = Path(run)
    manifest = read_manifest(run)
    wanted = served_files(manifest, lists)
    refuse = f"refusing run {run.name}"
    missing = sorted(wanted - manifest["files"].keys())
    if missing:
        raise PublishError(f"{refuse}: its manifest does not list {', '.join(missing)}")
    manifest = verify(run, hashed=wanted)
    try:
        cfg = PipelineConfig.model_validate(migrate_config(manifest["config"])).export
    except Exception as exc:
        raise PublishError(f"{refuse}: unreadable config in its manifest ({exc})") from exc
    attributes = None
    if ITEM_ATTRIBUTES in wanted:
        attributes = pq.read_table(run / ITEM_ATTRIBUTES)
    elif cfg.same_attribute or cfg.max_price_gap:
        raise PublishError(
            f"{refuse}: export.same_attribute/max_price_gap are set but the run publishes no "
            f"{ITEM_ATTRIBUTES} (exported by an older recsys; publish a new run)"
        )
    emb = Embedding.load(run)
    idx = index.load(run)
    counts = run / COUNT_LISTS if COUNT_LISTS in wanted else None
    channels = channels_of(emb, idx, cfg.scoring, counts, lazy=True)
    if channels.counts is not None:
        channels.counts.matrix.sort_indices()  # `because` reads rows by binary search
    vocab = pa.table({"item_id": emb.arrow_ids, "count": emb.counts})
    order = pc.sort_indices(vocab, [("count", "descending"), ("item_id", "ascending")])
    users = emptied = items = cold = None
    if USER_RECS in wanted and lists:
        users = KeyedRows(_list_table(run / USER_RECS, "user_id", "item_id"), "key")
    if USER_RECS_EMPTY in wanted and lists:
        table = pq.read_table(run / USER_RECS_EMPTY, use_threads=False)
        emptied = KeyedRows(table, "user_id", rank=None)
    if ITEM_RECS in wanted and lists:
        table = _list_table(run / ITEM_RECS, "item_id", "neighbor_id")
        keys = emb.rows_of(table.column("key"))
        items = RowLists(table, emb, keys)
        cold = KeyedRows(table.filter(pa.array(keys < 0)), "key")
    return ServedModel(
        run_id=run.name,
        run=run,
        manifest=manifest,
        cfg=cfg,
        emb=emb,
        channels=channels,
        rules=Rules(cfg, emb, attributes),
        popular=order.to_numpy(),
        users=users,
        emptied=emptied,
        items=items,
        cold=cold,
    )


def _no_rows() -> pa.Table:
    """An exported list with no rows (as `_list_table` names the columns)."""
    types = [pa.string(), pa.int32(), pa.string(), pa.float64(), pa.string()]
    return pa.schema(list(zip(["key", *LIST_COLUMNS], types, strict=True))).empty_table()


def _list_table(path: Path, key: str, item: str, only: str | None = None) -> pa.Table:
    """An exported list file as (key, rank, item, score, source); `only`: one key's rows."""
    columns = [key, "rank", item, "score", "source"]
    where = None if only is None else [(key, "=", only)]
    # One thread (the loader's): the served run's requests keep the other core.
    table = pq.read_table(path, columns=columns, filters=where, use_threads=False)
    return table.rename_columns(["key", *LIST_COLUMNS])
