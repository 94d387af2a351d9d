"""The `export` section (serving index, lists, business rules) and `publish` (retention)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from recsys.config.section import ColumnName, Section, refuse_moved


class ChannelWeights(Section):
    """Weights of the three channels fused into a list (CombSUM of min-max normalised
    scores, recsys/model/scoring.py). A weight of 0 leaves a channel out."""

    embedding: float = Field(
        1.0, ge=0, le=100, description="The item2vec embedding (FAISS, `export.scoring`)."
    )
    count: float = Field(
        0.5,
        ge=0,
        le=100,
        description="The count channel (`export.count_channel`, mined from the sessions): "
        "sharp on frequent pairs where the embedding smooths.",
    )
    popularity: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Item popularity (log count): what wins when the log has little "
        "co-occurrence signal (small catalogues, tiny baskets).",
    )

    def of(self) -> tuple[float, float, float]:
        """The weights in channel order (recsys.model.scoring: embedding, count, popularity)."""
        return (self.embedding, self.count, self.popularity)


class ExportConfig(Section):
    """Recommendation export and the serving index."""

    scoring: Literal["sym", "in_out", "in_in", "sym_in_out"] = Field(
        "sym",
        description="How the embedding scores a pair (also what evaluate measures). "
        "'in_out': an item's input vector against the output (context) vectors, the logit "
        "skip-gram/CBOW is trained to maximise (Mitra et al. 2016, dual embedding space). "
        "'sym': in·out + out·in, two estimates of the same pair averaged; on ml-100k and a "
        "second movie log it lifted next-item HR@20 by 3-50% and session recall more. "
        "'in_in': cosine of input vectors (classic item2vec): 'items like this one'. "
        "'sym_in_out': session and user lists 'sym', item lists 'in_out', from one index: "
        "the two kinds part ways as train.ns_exponent nears 0 (ml-100k, ns_exponent 0: "
        "items 0.250 in_out vs 0.238 sym, sessions 0.311 sym vs 0.280 in_out; HR@20). "
        "Unset by every config layer, a run under 'sym' or 'sym_in_out' scores its item "
        "lists both ways on its choosing half and serves the better (docs/evaluation.md).",
    )
    k: int = Field(
        50,
        ge=1,
        le=1000,
        description="Neighbours per item and items per user. Recall lists are cut by later "
        "filters (items already in the session, stock, a ranker), so they are exported "
        "deeper than the 20 a page shows.",
    )
    item_weights: ChannelWeights = Field(
        ChannelWeights(),
        description="Channel weights of the item lists (item_recs.parquet, `similar`).",
    )
    session_weights: ChannelWeights = Field(
        ChannelWeights(),
        description="Channel weights of the user lists and of live session recall.",
    )
    count_channel: Literal["sr", "cooc_window", "iknn", "cooccurrence"] = Field(
        "sr",
        description="Which count baseline feeds the count channel (its settings are under "
        "evaluate.baselines). Unset by every config layer, the run serves whichever of them "
        "ranks best on its choosing half (docs/evaluation.md).",
    )
    user_history: int = Field(
        10,
        ge=1,
        le=1000,
        description="How many of the user's (or session's) most recent items form the query.",
    )
    exclude_seen: bool = Field(True, description="Drop items the user already interacted with.")
    batch_size: int = Field(8192, ge=1, le=1_000_000, description="Queries per FAISS search batch.")
    # --- serving index (see docs/serving.md) ---
    index_type: Literal["auto", "flat", "hnsw", "ivfflat", "ivfpq"] = Field(
        "auto",
        description="Serving index. 'auto' picks by catalogue size: exact 'flat' up to "
        "flat_max_items, 'ivfflat' up to ivfflat_max_items (kept only if it reaches "
        "recall_target probing at most ivf_max_scan of its lists, else exact), 'ivfpq' "
        "above. Force one to trade memory, build time and recall yourself. 'hnsw' is never "
        "chosen automatically: on item2vec's inner-product (sym, in_out) vectors its recall "
        "stalled at 0.65 with efSearch 1024 (docs/performance.md).",
    )
    flat_max_items: int = Field(
        20_000,
        ge=0,
        description="Largest catalogue served by exact search: below this a full export "
        "takes seconds, so an approximation buys nothing.",
    )
    ivfflat_max_items: int = Field(
        1_000_000,
        ge=0,
        description="Largest catalogue 'auto' serves with IVF-Flat (float vectors, 4*dim+8 "
        "bytes per item); beyond it IVF-PQ keeps memory down (at 1M x 64: 105 vs 265 bytes "
        "per item, recall 0.982 vs 1.000).",
    )
    ivf_max_scan: float = Field(
        0.1,
        gt=0,
        le=1,
        description="Under 'auto', the largest share of IVF-Flat's lists a query may probe "
        "to reach recall_target. Scanning lists one query at a time costs 2-5x more per "
        "vector than exact search's matrix product, so beyond ~10% IVF is no faster and "
        "the exact index is used instead (what happens on vectors that do not cluster).",
    )
    hnsw_m: int = Field(
        32, ge=4, le=128, description="HNSW links per node: more = better recall, more memory."
    )
    hnsw_ef_construction: int = Field(
        64, ge=8, le=4096, description="HNSW build beam: more = better graph, slower build."
    )
    hnsw_ef_search: int = Field(
        16,
        ge=1,
        le=65_536,
        description="HNSW search beam to start from; recall_target doubles it as needed.",
    )
    ivf_nlist: int | None = Field(
        None,
        ge=1,
        le=1 << 20,
        description="IVF lists; None = 4*sqrt(items), the usual FAISS rule of thumb.",
    )
    ivf_nprobe: int = Field(
        1,
        ge=1,
        le=1 << 20,
        description="IVF lists visited per query (ivfpq, ivfflat) to start from; "
        "recall_target doubles it, then bisects back to the smallest that reaches it "
        "(every step is a search of recall_sample queries: cheap next to the export).",
    )
    pq_m: int | None = Field(
        None,
        ge=1,
        le=2048,
        description="PQ sub-quantizers (bytes per vector at 8 bits); None = dim/2. Must "
        "divide the vector size.",
    )
    pq_refine: bool = Field(
        True,
        description="Re-rank IVF-PQ candidates with 8-bit scalar-quantized vectors (dim "
        "extra bytes per item): recovers recall PQ alone loses on inner-product scores.",
    )
    min_recall: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Recall@K floor of the serving index against exact search, checked "
        "before publishing (exit 4 below it, unless gate.enforce=false).",
    )
    recall_target: float = Field(
        0.98,
        ge=0,
        le=1,
        description="Before the gate, the search beam (HNSW efSearch, IVF nprobe) is doubled "
        "from its configured start until the sampled recall@K reaches this (or the beam "
        "stops helping): fast defaults, recall made sure on the actual vectors.",
    )
    recall_sample: int = Field(
        1000, ge=10, le=1_000_000, description="Queries sampled (fixed seed) for the recall check."
    )
    # --- user vectors ---
    recency_decay: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Weight of the i-th most recent item in a user or session query is "
        "decay**i (1 = plain sum): recent taste counts more.",
    )
    # --- business filters, applied to item and user lists ---
    blocklist: list[str] = Field(
        [], description="Item ids never recommended (recalled, adult, out of stock...)."
    )
    allowlist: list[str] | None = Field(
        None, description="If set, only these item ids may be recommended."
    )
    item_attributes: str | None = Field(
        None,
        description="Optional item-attributes file (CSV/Parquet, column item_id + "
        "attributes) for the attribute rules and same-attribute cold-start fallback.",
    )
    same_attribute: ColumnName | None = Field(
        None,
        description="Attribute column that must match the anchor (query item, or the "
        "user's most recent item), e.g. 'category' for same-category-only lists.",
    )
    price_column: ColumnName | None = Field(
        None, description="Numeric attribute column used by max_price_gap."
    )
    max_price_gap: float | None = Field(
        None,
        gt=0,
        description="Keep candidates priced within +-this fraction of the anchor's price "
        "(0.3 = +-30%): the seeds' 'price gap' filter.",
    )
    overfetch: int = Field(
        3,
        ge=1,
        le=100,
        description="Candidates searched per list = overfetch*K (+ seen items), so K "
        "remain after the filters; raise it for strict filters.",
    )

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        return refuse_moved("export", data)

    @model_validator(mode="after")
    def _price_rule_complete(self) -> ExportConfig:
        if self.max_price_gap is not None and not self.price_column:
            raise ValueError("max_price_gap needs price_column")
        if (self.same_attribute or self.price_column) and not self.item_attributes:
            raise ValueError("same_attribute/price_column need item_attributes (a file)")
        return self


class PublishConfig(Section):
    """Atomic publishing of the run directory."""

    keep_runs: int = Field(
        10, ge=2, description="Run directories kept; current and the previous champion never go."
    )
