"""The export's business rules at request time, as numpy masks over vocabulary rows.

The export flags candidates in SQL (sql/export/flag.sql); a live answer has a few hundred
candidates and no database, so the same rules are applied here, with the same meaning:

- `blocklist` ids are never recommended; with an `allowlist` only its ids are;
- `same_attribute`: a candidate's category must equal the anchor's (a null on either side
  removes it);
- `price_gap`: |price - anchor price| <= max_price_gap x |anchor price| (a null on either
  side removes it);
- the request's removals: the query item itself, a session's own items (`seen`), and the
  request's `exclude` ids.

The anchor is the query item for an item list and the session's latest item for a session
(the user's latest item in the export). An answer without an anchor (an unknown user's
popularity fallback) gets the rules that need none. Attributes come from the run's
`item_attributes.parquet` (item_id, category, price), which the export publishes when
`export.item_attributes` is set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys.config import ExportConfig
from recsys.model.embedding import Embedding
from recsys.serve.lookup import KeyedRows

NO_CATEGORY = -1


@dataclass(frozen=True)
class Anchor:
    """What the attribute rules compare a candidate with: a category code (NO_CATEGORY when
    null or unknown) and a price (NaN when null or unknown)."""

    category: int = NO_CATEGORY
    price: float = float("nan")


class Rules:
    """The rules of one run over its vocabulary rows."""

    def __init__(self, cfg: ExportConfig, emb: Embedding, attributes: pa.Table | None) -> None:
        n = len(emb)
        self.same_attribute = cfg.same_attribute is not None
        self.price_gap = cfg.max_price_gap
        self.banned = np.zeros(n, dtype=bool)
        blocked = emb.rows(cfg.blocklist)
        self.banned[blocked[blocked >= 0]] = True
        if cfg.allowlist is not None:
            allowed = np.zeros(n, dtype=bool)
            rows = emb.rows(cfg.allowlist)
            allowed[rows[rows >= 0]] = True
            self.banned |= ~allowed
        self.category = np.full(n, NO_CATEGORY, dtype=np.int64)
        self.price = np.full(n, np.nan)
        self._keyed: KeyedRows | None = None
        if attributes is not None and attributes.num_rows:
            self._attributes(attributes, emb)

    def _attributes(self, table: pa.Table, emb: Embedding) -> None:
        self._keyed = KeyedRows(table, "item_id", rank=None)
        table = self._keyed.table
        codes = pc.dictionary_encode(table.column("category").combine_chunks())
        self._codes = codes.indices.fill_null(NO_CATEGORY).to_numpy(zero_copy_only=False)
        self._prices = table.column("price").to_numpy(zero_copy_only=False).astype(np.float64)
        at = pc.index_in(emb.arrow_ids, value_set=table.column("item_id"))
        known = pc.is_valid(at).to_numpy(zero_copy_only=False)
        at = at.fill_null(0).to_numpy(zero_copy_only=False)
        self.category[known] = self._codes[at[known]]
        self.price[known] = self._prices[at[known]]

    def anchor(self, item_id: str | None) -> Anchor | None:
        """The anchor of a list on `item_id` (any id, with or without a vector); None for no
        anchor."""
        if item_id is None:
            return None
        at = None if self._keyed is None else self._keyed.position(item_id)
        if at is None:
            return Anchor()
        row = int(self._keyed.starts[at])  # item ids are unique: one row per key
        return Anchor(int(self._codes[row]), float(self._prices[row]))

    @property
    def anchored(self) -> bool:
        """Whether any rule compares candidates with an anchor."""
        return self.same_attribute or self.price_gap is not None

    def keep(self, rows: np.ndarray, anchor: Anchor | None, removed: np.ndarray) -> np.ndarray:
        """Which candidate `rows` (-1 = padding, never kept) pass every rule, `removed` being
        the rows this request takes out (query item, session items, `exclude`)."""
        rows = np.asarray(rows, dtype=np.int64)
        valid = rows >= 0
        safe = np.where(valid, rows, 0)
        removed = np.asarray(removed, dtype=np.int64)
        # A request removes a handful of rows: a broadcast compare beats np.isin's sort.
        ok = valid & ~self.banned[safe] & (rows[:, None] != removed[None, :]).all(axis=1)
        if anchor is None:
            return ok
        if self.same_attribute:
            ok &= (anchor.category != NO_CATEGORY) & (self.category[safe] == anchor.category)
        if self.price_gap is not None:
            price = self.price[safe]
            with np.errstate(invalid="ignore"):
                # NaN (a missing price on either side) compares false: removed, as in SQL.
                ok &= np.abs(price - anchor.price) <= self.price_gap * abs(anchor.price)
        return ok
