"""The one typed configuration of the pipeline.

`PipelineConfig` is the flow's parameter, so the Prefect UI renders it as a form; the CLI
builds it from defaults, then `DATA_DIR/tuned.yaml` (if present), then `--config FILE.yaml`,
then each `--set a.b=c`, later layers winning. Every field is validated: a typo in a key or a
value of the wrong type is a usage error (exit 2), never a silent default.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from recsys.errors import UsageError


class _Section(BaseModel):
    # Unknown keys are almost always typos ("epoch" for "epochs"): refuse them.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ColumnMap(_Section):
    """Names of the input columns; ids are cast to strings downstream."""

    user_id: str = "user_id"
    item_id: str = "item_id"
    timestamp: str = "timestamp"
    event_type: str | None = Field(
        "event_type", description="Optional column; used when present in the file."
    )
    session_id: str | None = Field(
        "session_id",
        description="Optional column; when present it replaces gap sessionization.",
    )


class ExtractConfig(_Section):
    """DuckDB extraction: typing, cleaning, sessionization and the time split."""

    columns: ColumnMap = ColumnMap()
    input_format: Literal["auto", "csv", "parquet", "json"] = Field(
        "auto", description="Reader to use; 'auto' picks by file extension."
    )
    csv_delimiter: str | None = Field(
        None, description="CSV delimiter; None lets DuckDB sniff it (tabs, commas, ...)."
    )
    timestamp_unit: Literal["auto", "s", "ms"] = Field(
        "auto",
        description="Unit of numeric timestamps. 'auto' reads values above 1e11 as "
        "milliseconds (1e11 s is the year 5138).",
    )
    session_gap_minutes: float = Field(
        30.0,
        gt=0,
        description="Inactivity gap that starts a new session (30 min is the web-analytics "
        "convention, also used by GRU4Rec's preprocessing).",
    )
    min_session_length: int = Field(
        2, ge=2, description="Sessions shorter than this carry no co-occurrence: dropped."
    )
    max_session_length: int = Field(
        200,
        ge=2,
        description="Longer sessions are cut into consecutive chunks of this length, so "
        "one marathon session cannot dominate the corpus.",
    )
    collapse_repeats: bool = Field(
        True,
        description="Collapse consecutive repeats of the same item (reloads, double "
        "clicks); they teach the model that an item predicts itself.",
    )
    event_types: list[str] | None = Field(
        None, description="Keep only these event types (None keeps all)."
    )
    test_fraction: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="Share of events (by global time) held out for evaluation; a session "
        "crossing the cut is split at it so no later event leaks into training.",
    )
    memory_limit: str = Field("2GB", description="DuckDB memory_limit for the stage.")
    threads: int | None = Field(None, ge=1, description="DuckDB threads (None: all cores).")
    # Cleaning rules (docs/extract.md); each one's dropped rows are counted in extract.json.
    duplicate_window_seconds: float = Field(
        0.0,
        ge=0,
        description="An event repeating the previous event of the same user, item and type "
        "within this many seconds is a near duplicate (double submits, tracker retries) and "
        "dropped. 0 drops exact duplicates only.",
    )
    max_user_events: int | None = Field(
        None,
        ge=1,
        description="Users with more events than this are treated as bots/crawlers and all "
        "their events dropped (None: no limit).",
    )
    max_events_per_minute: int | None = Field(
        None,
        ge=1,
        description="Users who ever log more events than this in one calendar minute are "
        "treated as bots and dropped; humans rarely exceed ~30 (None: no limit).",
    )
    min_item_count: int = Field(
        1,
        ge=1,
        description="Items with fewer cleaned events (whole log, after the bot filter) are "
        "dropped before sessionization; too rare to learn a vector for.",
    )
    min_user_events: int = Field(
        1,
        ge=1,
        description="Users with fewer cleaned events (after the rare-item rule) are dropped "
        "before sessionization.",
    )
    validation_fraction: float = Field(
        0.0,
        ge=0,
        lt=0.5,
        description="Share of events (by global time, just before the test cut) labelled "
        "'validation' for tuning; excluded from the training corpus. 0: no validation split.",
    )
    test_start: datetime | None = Field(
        None,
        description="Cut by date instead of fraction: events at or after this UTC time are "
        "'test' (overrides test_fraction).",
    )
    validation_start: datetime | None = Field(
        None,
        description="With test_start: events from this UTC time up to test_start are "
        "'validation' (overrides validation_fraction).",
    )
    event_type_weights: dict[str, int] = Field(
        {},
        description="Session weights by event type, e.g. {purchase: 3}: a training session "
        "is written to the corpus as many times as the largest weight of its events "
        "(default 1), so converting sessions count more.",
    )
    incremental: bool = Field(
        False,
        description="Keep the typed events in DATA_DIR/warehouse.duckdb and read only input "
        "files that are new or changed since the last run (a scheduled run over a folder of "
        "daily partitions); the stage is then rebuilt from the warehouse (docs/extract.md).",
    )

    @field_validator("test_start", "validation_start")
    @classmethod
    def _as_naive_utc(cls, value: datetime | None) -> datetime | None:
        # Stage tables hold naive UTC timestamps; a zoned cut is converted, a naive one is UTC.
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    @model_validator(mode="after")
    def _split_dates(self) -> ExtractConfig:
        if self.validation_start is not None and self.test_start is None:
            raise ValueError("validation_start needs test_start")
        if self.validation_start is not None and self.validation_start >= self.test_start:
            raise ValueError("validation_start must be before test_start")
        if self.test_fraction + self.validation_fraction >= 0.9:
            raise ValueError("test_fraction + validation_fraction leaves too little to train")
        if any(w < 1 for w in self.event_type_weights.values()):
            raise ValueError("event_type_weights must be integers >= 1")
        return self


class DriftConfig(_Section):
    """Tolerances against the previous successful (published) run's quality profile."""

    max_volume_change: float = Field(
        0.5, ge=0, description="Allowed relative change of events per day (warn by default)."
    )
    max_distinct_change: float = Field(
        0.5, ge=0, description="Allowed relative change of distinct users and items (warn)."
    )
    max_session_length_change: float = Field(
        0.5, ge=0, description="Allowed relative change of the mean session length (warn)."
    )
    top_k: int = Field(100, ge=1, description="How many most-popular items drift compares.")
    min_top_overlap: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Share of the previous top-k items that must still be in the top-k; "
        "re-keyed or renamed items drop it.",
    )
    max_psi: float = Field(
        0.25,
        ge=0,
        description="Population stability index of item popularity over the previous top-k "
        "items plus 'rest' (0.1-0.25 moderate, > 0.25 a real shift).",
    )


class QualityConfig(_Section):
    """Great Expectations checks; failure stops the run with exit code 3."""

    min_events: int = Field(100, ge=0, description="Minimum usable events after cleaning.")
    min_train_sessions: int = Field(20, ge=0, description="Minimum training sessions.")
    min_items: int = Field(10, ge=0, description="Minimum distinct items in training.")
    max_null_id_fraction: float = Field(
        0.0, ge=0, le=1, description="Allowed share of rows with a null/empty user or item id."
    )
    max_bad_timestamp_fraction: float = Field(
        0.0, ge=0, le=1, description="Allowed share of rows whose timestamp does not parse."
    )
    future_tolerance_hours: float = Field(
        24.0, ge=0, description="Timestamps later than now + this are 'in the future'."
    )
    min_year: int = Field(
        1995, description="Timestamps before this year are treated as broken (e.g. 1970)."
    )
    max_session_length: int = Field(
        10_000, ge=2, description="Sessions longer than this (before chunking) fail the run."
    )
    sample_rows: int = Field(
        100_000,
        ge=1_000,
        description="Row-level expectations run on a bounded random sample of this size; "
        "counts over all rows are checked as aggregates computed in DuckDB.",
    )
    allowed_event_types: list[str] | None = Field(
        None,
        description="Event types the source may send (e.g. [view, cart, purchase]); a new "
        "type usually means an upstream change. None accepts any.",
    )
    max_duplicate_fraction: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Allowed share of exact duplicate rows (same user, item, time, type); "
        "more means a double-delivered export.",
    )
    max_item_share: float = Field(
        0.2,
        gt=0,
        le=1,
        description="Largest share of events one item may have; above it one item (a "
        "default/landing page, a tracking bug) swamps the embedding.",
    )
    min_tokens: int = Field(
        100, ge=0, description="Minimum training tokens (events in training sessions)."
    )
    min_test_coverage: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Minimum share of held-out events whose item is in the training "
        "vocabulary; lower makes the evaluation meaningless (e.g. ids re-keyed mid-period).",
    )
    bot_max_user_events: int = Field(
        50_000, ge=1, description="A user with more events than this is counted as a bot."
    )
    bot_max_events_per_minute: int = Field(
        120,
        ge=1,
        description="A user with more events in one minute is counted as a bot "
        "(MovieLens-100K's busiest user peaks at 30).",
    )
    max_bot_event_share: float = Field(
        0.01, ge=0, le=1, description="Allowed share of events made by bot-like users."
    )
    max_p99_session_length: float = Field(
        1_000, ge=1, description="Bound on the 99th percentile of session length (warn)."
    )
    max_single_event_session_share: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Bound on the share of one-event sessions (warn): near 1 means the "
        "session gap or the timestamps are wrong.",
    )
    max_sessions_per_user: int = Field(
        10_000, ge=1, description="Bound on any one user's session count (warn)."
    )
    drift: DriftConfig = DriftConfig()
    severity: dict[str, Literal["warn", "fail"]] = Field(
        {},
        description="Per-rule severity overrides by rule id (e.g. {top_overlap: warn}); "
        "warnings annotate the run, failures stop it. Ids are listed in quality.md.",
    )
    example_rows: int = Field(
        5,
        ge=0,
        description="Offending input rows shown per failed or warned raw-events rule in "
        "quality.md (a bounded query, only on failure).",
    )
    data_docs: bool = Field(
        True, description="Build GX Data Docs into the run folder (data_docs/index.html)."
    )


class TrainConfig(_Section):
    """gensim Word2Vec knobs, under gensim's own names (see gensim.models.Word2Vec)."""

    vector_size: int = Field(
        32, ge=2, le=2048, description="Embedding dimension (64/128 gained nothing on ml-100k)."
    )
    window: int = Field(
        3,
        ge=1,
        description="Max distance between the centre item and a context item; small windows "
        "(3) won on ml-100k next-item, large ones blur sessions into topics.",
    )
    sg: Literal[0, 1] = Field(
        1, description="1 = skip-gram (item2vec, Barkan & Koenigstein 2016), 0 = CBOW."
    )
    hs: Literal[0, 1] = Field(
        0,
        description="1 = hierarchical softmax (Morin & Bengio 2005) instead of negative "
        "sampling: better for very rare items, slower; context vectors then come from syn1.",
    )
    negative: int = Field(
        10,
        ge=0,
        description="Negative samples per positive (Mikolov et al. 2013); 5-20 suits small "
        "corpora, 2-5 large ones. 0 disables negative sampling (then set hs=1).",
    )
    ns_exponent: float = Field(
        0.0,
        description="Exponent shaping the negative-sampling distribution; Caselles-Dupré et "
        "al. 2018 find values below 0.75 (even negative) better for recommendation.",
    )
    sample: float = Field(
        0.0,
        ge=0,
        description="Down-sampling threshold for frequent items. 0 keeps all: catalogues "
        "are small next to vocabularies of text, and on ml-100k 1e-5 discarded most tokens.",
    )
    min_count: int = Field(
        1,
        ge=1,
        description="Items seen fewer times are left out of the model (they get popularity "
        "fallbacks). Raise it on huge long-tail catalogues to save memory and noise.",
    )
    epochs: int = Field(
        20, ge=1, description="Passes over the corpus (10-20 suffice; 100 gained nothing)."
    )
    alpha: float = Field(
        0.025,
        gt=0,
        description="Initial learning rate (gensim's skip-gram default); CBOW often wants "
        "0.05. Too high with many epochs over-fits frequent items.",
    )
    min_alpha: float = Field(
        0.0001, ge=0, description="Final learning rate; alpha decays linearly to it."
    )
    shrink_windows: bool = Field(
        True,
        description="Sample the effective window per item (gensim default); False uses the "
        "full window, better for baskets where order means little.",
    )
    seed: int = Field(
        42, description="Seed for vector initialisation and sampling: fixed runs are comparable."
    )
    workers: int = Field(
        1,
        ge=1,
        description="Training threads. 1 (with a fixed seed and PYTHONHASHSEED) gives "
        "bit-identical vectors; more is faster but not reproducible.",
    )


class ItemAttributes(_Section):
    """Optional item metadata file used by the diagnostics (titles, categories)."""

    path: str | None = Field(
        None,
        description="CSV/TSV/Parquet file with one row per item. None: MovieLens's "
        "ml-100k.item when running on the default data set, otherwise no titles/categories.",
    )
    id_column: str = Field("item_id:token", description="Column holding the item id.")
    title_column: str | None = Field(
        "movie_title:token_seq", description="Column with a readable title (None: no titles)."
    )
    category_column: str | None = Field(
        "class:token_seq",
        description="Column with the item's categories, e.g. genres (None: no NMI, the map "
        "is coloured by popularity).",
    )
    category_separator: str | None = Field(
        " ", description="Splits multi-category cells; the first category is the label."
    )


class EvaluateConfig(_Section):
    """Next-item evaluation on the held-out time split, slices and diagnostics."""

    ks: list[int] = Field([10, 20], description="Cut-offs for HR@K, MRR@K, NDCG@K.")
    head_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of the catalogue (most trained items first) in the 'head' slice; "
        "the 80/20 split is the usual long-tail convention.",
    )
    short_session_max: int = Field(
        5,
        ge=2,
        description="Test sessions with at most this many events form the 'short' slice; "
        "short sessions have little context and are where next-item models differ most.",
    )
    diagnostics: bool = Field(
        True,
        description="Neighbour samples, clustering quality and the 2-D map (about 2 s on "
        "ml-100k); switch off for very large catalogues if the report is not wanted.",
    )
    diagnostics_sample: int = Field(
        5_000,
        ge=100,
        description="Items (most trained first) used for clustering and the 2-D map, so "
        "diagnostics stay fast on million-item catalogues.",
    )
    n_clusters: int = Field(
        20, ge=2, description="k of the k-means run whose silhouette/Davies-Bouldin are shown."
    )
    neighbour_samples: int = Field(
        10, ge=0, description="Most popular items whose neighbours the report lists."
    )
    item_attributes: ItemAttributes = ItemAttributes()
    search_batch: int = Field(
        8192,
        ge=1,
        description="Queries per exact FAISS search batch (memory: batch x catalogue "
        "scores); evaluate shards are cut at whole batches.",
    )


class GateConfig(_Section):
    """Publish only models that pass these rules (exit code 4 otherwise)."""

    enforce: bool = Field(
        True, description="False publishes even when a rule fails; verdicts are still recorded."
    )
    k: int = Field(20, ge=1, description="The K at which the gate reads HR.")
    min_hr: float = Field(0.0, ge=0, le=1, description="Absolute floor on the model's HR@K.")
    baselines: list[Literal["popularity", "cooccurrence"]] = Field(
        ["popularity", "cooccurrence"],
        description="Baselines the model must beat by `min_lift` (drop one only when it "
        "is not a meaningful competitor for your data).",
    )
    min_lift: float = Field(
        0.10,
        description="Required relative lift of HR@K over every baseline (0.1 = beat each by "
        "10%). On ml-100k the model leads co-occurrence by ~33%, so 10% refuses broken "
        "models while leaving room for data drift.",
    )
    champion_tolerance: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Largest relative HR@K drop against the published champion (re-scored "
        "on this run's test pairs) that still publishes; 1 disables the rule.",
    )
    min_vocab_coverage: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Share of test events whose item the model knows; lower means the "
        "training window misses much of what users now touch (retrain on fresher data).",
    )
    min_vector_norm: float = Field(
        1e-3, ge=0, description="Smallest allowed input-vector L2 norm (0-vectors are untrained)."
    )
    max_vector_norm: float = Field(
        100.0, gt=0, description="Largest allowed L2 norm (larger means training diverged)."
    )


class ExportConfig(_Section):
    """Recommendation export and the serving index."""

    scoring: Literal["in_out", "in_in"] = Field(
        "in_out",
        description="How neighbours are scored (also what evaluate measures). 'in_out': an "
        "item's input vector against the output (context) vectors, the score the skip-gram/"
        "CBOW objective itself trains (Mitra et al. 2016, dual embedding space): 'what goes "
        "with this item'; on MovieLens-100K it wins next-item HR@20 by ~50% over 'in_in'. "
        "'in_in': cosine of input vectors (classic item2vec): 'items like this one'.",
    )
    k: int = Field(20, ge=1, le=1000, description="Neighbours per item and items per user.")
    user_history: int = Field(
        20, ge=1, description="How many of the user's most recent items form the user vector."
    )
    exclude_seen: bool = Field(True, description="Drop items the user already interacted with.")
    batch_size: int = Field(8192, ge=1, description="Queries per FAISS search batch.")
    # --- serving index (see docs/serving.md) ---
    index_type: Literal["auto", "flat", "hnsw", "ivfflat", "ivfpq"] = Field(
        "auto",
        description="Serving index. 'auto' picks by catalogue size: exact 'flat' up to "
        "flat_max_items, 'hnsw' up to hnsw_max_items, 'ivfpq' above. Force one to trade "
        "memory, build time and recall yourself; 'ivfflat' (inverted lists over exact "
        "vectors) is the fastest for all-items batch export when items form clusters.",
    )
    flat_max_items: int = Field(
        20_000,
        ge=0,
        description="Largest catalogue served by exact search: below this a full export "
        "takes seconds, so an approximation buys nothing.",
    )
    hnsw_max_items: int = Field(
        500_000,
        ge=0,
        description="Largest catalogue served by HNSW (float vectors + graph, ~4*dim+2*M*4 "
        "bytes per item); beyond it IVF-PQ keeps memory down (at 1M x 64 it measured 105 "
        "vs 528 bytes per item, and HNSW's recall@20 fell to 0.93 with default search).",
    )
    hnsw_m: int = Field(
        32, ge=4, le=128, description="HNSW links per node: more = better recall, more memory."
    )
    hnsw_ef_construction: int = Field(
        64, ge=8, description="HNSW build beam: more = better graph, slower build."
    )
    hnsw_ef_search: int = Field(
        16,
        ge=1,
        description="HNSW search beam to start from; recall_target doubles it as needed.",
    )
    ivf_nlist: int | None = Field(
        None,
        ge=1,
        description="IVF lists; None = 4*sqrt(items), the usual FAISS rule of thumb.",
    )
    ivf_nprobe: int = Field(
        8,
        ge=1,
        description="IVF lists visited per query (ivfpq, ivfflat) to start from; "
        "recall_target doubles it as needed.",
    )
    pq_m: int | None = Field(
        None,
        ge=1,
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
        1000, ge=10, description="Queries sampled (fixed seed) for the recall check."
    )
    # --- user vectors ---
    recency_decay: float = Field(
        0.85,
        gt=0,
        le=1,
        description="Weight of the i-th most recent item in the user vector is decay**i "
        "(1 = plain mean): recent taste counts more.",
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
    same_attribute: str | None = Field(
        None,
        description="Attribute column that must match the anchor (query item, or the "
        "user's most recent item), e.g. 'category' for same-category-only lists.",
    )
    price_column: str | None = Field(
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
        description="Candidates searched per list = overfetch*K (+ seen items), so K "
        "remain after the filters; raise it for strict filters.",
    )
    # --- second recall channel ---
    cooccurrence_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the co-occurrence channel (items that directly followed "
        "each other in training sessions) fused with the embedding list by weighted "
        "reciprocal rank; 0 disables it. `source` says which channel(s) found an item.",
    )

    @model_validator(mode="after")
    def _price_rule_complete(self) -> ExportConfig:
        if self.max_price_gap is not None and not self.price_column:
            raise ValueError("max_price_gap needs price_column")
        if (self.same_attribute or self.price_column) and not self.item_attributes:
            raise ValueError("same_attribute/price_column need item_attributes (a file)")
        return self


class PublishConfig(_Section):
    """Atomic publishing of the run directory."""

    keep_runs: int = Field(
        10, ge=2, description="Run directories kept; current and the previous champion never go."
    )


class AugmentConfig(_Section):
    """Corpus augmentation before training (DeepWalk, Perozzi et al. 2014)."""

    deepwalk_walks_per_item: int = Field(
        0,
        ge=0,
        description="Random walks started from every item over the directed item-transition "
        "graph of the training sessions, appended to the corpus (0 = off). Helps sparse "
        "catalogues where many items share few sessions.",
    )
    deepwalk_walk_length: int = Field(10, ge=2, description="Items per random walk.")
    seed: int = Field(0, description="Seed of the walks.")


class TuneConfig(_Section):
    """`recsys tune`: hyperparameter search on a validation split (never the test split)."""

    trials: int = Field(20, ge=1, description="Trial budget.")
    timeout_seconds: float | None = Field(
        None, gt=0, description="Wall-time budget; no new trial starts after it."
    )
    sampler: Literal["tpe", "random"] = Field(
        "tpe", description="Optuna sampler: TPE (Bayesian) or random search."
    )
    seed: int = Field(0, description="Seed of the sampler (same seed, same trials).")
    validation_fraction: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="Share of the training period held out (by time) to score trials.",
    )
    sample_fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Share of validation-training sessions each trial trains on (fast "
        "trials); the best configuration is then re-scored on all of them.",
    )
    parallel: int = Field(2, ge=1, description="Trials run at once (one core each).")
    metric: str = Field("hr@20", description="Metric to maximise (hr@K, mrr@K or ndcg@K).")

    @model_validator(mode="before")
    @classmethod
    def _runner_moved(cls, data: Any) -> Any:
        # Since issue 8 the runner is shared by `recsys run` and `recsys tune` (ops section).
        for key in ("task_runner", "dask_address"):
            if isinstance(data, dict) and key in data:
                raise ValueError(f"tune.{key} moved to ops.{key}")
        return data


class OpsConfig(_Section):
    """Operational limits of a run (not model settings: they never change the result)."""

    train_timeout_seconds: float | None = Field(
        None,
        gt=0,
        description="Wall-time budget of the train stage. When set, training runs in a "
        "child process that is killed at the limit (gensim's C loop ignores Python "
        "timeouts) and the run fails with exit code 1; set it so a stuck or runaway "
        "nightly run frees the worker. None trains in-process without a limit.",
    )
    extract_cache: int = Field(
        1,
        ge=0,
        description="Extractions kept under DATA_DIR/cache/extract for reuse when a run "
        "reads the same input bytes with the same extract settings (each costs one stage "
        "database of disk; 0 turns the cache off). Saves the extract stage on reruns.",
    )
    # --- scale-out (docs/operations.md#scale-out-on-dask); none of these change a result ---
    task_runner: Literal["threads", "dask"] = Field(
        "threads",
        description="Where parallel tasks (tuning trials, evaluate/export shards) run: "
        "threads in this process, or a Dask cluster (a LocalCluster of dask_workers "
        "processes, or the scheduler at dask_address). `--task-runner` sets it.",
    )
    dask_address: str | None = Field(
        None,
        description="Scheduler of an existing Dask cluster (tcp://host:8786); None starts a "
        "LocalCluster for the run. Its workers must see the data directory.",
    )
    dask_workers: int = Field(
        2, ge=1, description="Worker processes of the LocalCluster (one thread each)."
    )
    shards: int | None = Field(
        None,
        ge=1,
        description="Shards the evaluate and export stages are split into (by ranges of "
        "query item / user id). None: 1 on threads (DuckDB and FAISS already use every "
        "core of this machine), one per Dask worker on a cluster.",
    )


class PipelineConfig(_Section):
    """Everything a run needs besides its input path and data directory."""

    extract: ExtractConfig = ExtractConfig()
    quality: QualityConfig = QualityConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    gate: GateConfig = GateConfig()
    export: ExportConfig = ExportConfig()
    publish: PublishConfig = PublishConfig()
    augment: AugmentConfig = AugmentConfig()
    tune: TuneConfig = TuneConfig()
    ops: OpsConfig = OpsConfig()

    @model_validator(mode="after")
    def _gate_k_evaluated(self) -> PipelineConfig:
        if self.gate.k not in self.evaluate.ks:
            self.evaluate.ks = sorted({*self.evaluate.ks, self.gate.k})
        return self


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UsageError(f"--set {key}: '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(item: str) -> tuple[str, Any]:
    """Split `a.b=c`; the value is read as YAML so `1`, `0.5`, `false`, `[a, b]` get types."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects key=value, got '{item}'")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise UsageError(f"--set {key}: cannot parse value '{raw}': {exc}") from exc
    return key.strip(), value


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError as exc:
        raise UsageError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a mapping at the top level")
    return data


def load_config(
    layers: list[Path | None] = (), overrides: list[str] = (), base: dict | None = None
) -> PipelineConfig:
    """Build the config from `base` (e.g. a published run's config), YAML layers (earliest
    first, None skipped) and `--set` items."""
    tree: dict[str, Any] = dict(base or {})
    for layer in layers:
        if layer is not None:
            tree = _merge(tree, read_yaml(layer))
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(tree, key, value)
    try:
        return PipelineConfig.model_validate(tree)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"config {where}: {first['msg']}") from exc
