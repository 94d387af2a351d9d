"""The `evaluate` section (metrics, slices, diagnostics) and the `gate` it feeds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from recsys.config.section import ColumnName, Section

# A cut-off K: at least 1, and no more than any list the export can hold.
Cutoff = Annotated[int, Field(ge=1, le=1000)]


class ItemAttributes(Section):
    """Optional item metadata file used by the diagnostics (titles, categories)."""

    path: str | None = Field(
        None,
        description="CSV/TSV/Parquet file with one row per item. None: MovieLens's "
        "ml-100k.item when running on the default data set, otherwise no titles/categories.",
    )
    id_column: ColumnName = Field("item_id:token", description="Column holding the item id.")
    title_column: ColumnName | None = Field(
        "movie_title:token_seq", description="Column with a readable title (None: no titles)."
    )
    category_column: ColumnName | None = Field(
        "class:token_seq",
        description="Column with the item's categories, e.g. genres (None: no NMI, the map "
        "is coloured by popularity).",
    )
    category_separator: str | None = Field(
        " ", description="Splits multi-category cells; the first category is the label."
    )


class EvaluateConfig(Section):
    """Next-item evaluation on the held-out time split, slices and diagnostics."""

    ks: list[Cutoff] = Field(
        [10, 20], min_length=1, max_length=20, description="Cut-offs for HR@K, MRR@K, NDCG@K."
    )
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
        le=1_000_000,
        description="Items (most trained first) used for clustering and the 2-D map, so "
        "diagnostics stay fast on million-item catalogues.",
    )
    n_clusters: int = Field(
        20,
        ge=2,
        le=1000,
        description="k of the k-means run whose silhouette/Davies-Bouldin are shown.",
    )
    neighbour_samples: int = Field(
        10, ge=0, le=1000, description="Most popular items whose neighbours the report lists."
    )
    item_attributes: ItemAttributes = ItemAttributes()
    search_batch: int = Field(
        8192,
        ge=1,
        le=1_000_000,
        description="Queries per exact FAISS search batch (memory: batch x catalogue "
        "scores); evaluate shards are cut at whole batches.",
    )


class GateConfig(Section):
    """Publish only models that pass these rules (exit code 4 otherwise)."""

    enforce: bool = Field(
        True, description="False publishes even when a rule fails; verdicts are still recorded."
    )
    k: Cutoff = Field(20, description="The K at which the gate reads HR.")
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
