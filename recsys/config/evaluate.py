"""The `evaluate` section (metrics, slices, diagnostics) and the `gate` it feeds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from recsys.config.section import ColumnName, Section

# A cut-off K: at least 1, and no more than any list the export can hold.
Cutoff = Annotated[int, Field(ge=1, le=1000)]

# Baselines by the kind of list they compete with (the gate compares like with like).
ITEM_BASELINES = ("popularity", "cooccurrence", "sr", "cooc_window", "iknn")
SESSION_BASELINES = ("spop", "sr_prefix", "vsknn")
BaselineName = Literal[
    "popularity", "cooccurrence", "sr", "cooc_window", "iknn", "spop", "sr_prefix", "vsknn"
]


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


class SequentialRules(Section):
    """Sequential rules (SR, Ludewig & Jannach 2018): item j scores for item i by the number
    of training sessions in which j follows i within `steps` positions, each pair weighted
    by its distance. The `sr` baseline, the whole-prefix `sr_prefix` baseline and the
    published lists' count channel all use these settings; `recsys tune` picks them."""

    steps: int = Field(
        10,
        ge=1,
        le=100,
        description="Largest distance (in positions) between the two items of a rule; the "
        "cost of counting grows with it.",
    )
    weighting: Literal["same", "linear", "log", "quadratic"] = Field(
        "log",
        description="Weight of a pair at distance d: 1, 1/d, 1/log2(d+1) or 1/d^2.",
    )
    both_directions: bool = Field(
        True,
        description="Count j before i as well as after it. Order carries little signal in "
        "ratings and baskets (both directions won there), more in click streams.",
    )


class Baselines(Section):
    """Settings of the simple baselines the model is compared with (docs/evaluation.md);
    `recsys tune` chooses them on the validation split, like the model's."""

    sr: SequentialRules = SequentialRules()
    cooc_window: int = Field(
        5,
        ge=1,
        le=100,
        description="`cooc_window`: items within this many positions of the query, in "
        "either direction, counted once per occurrence (windowed co-occurrence).",
    )
    iknn_shrink: float = Field(
        20.0,
        ge=0,
        description="`iknn`: cosine of two items' session sets, |S_i ∩ S_j| / "
        "(sqrt(|S_i||S_j|) + shrink); shrinkage damps pairs seen in few sessions.",
    )
    session_items: int = Field(
        10,
        ge=1,
        le=200,
        description="`sr_prefix` and `vsknn` look at this many of the session's most recent items.",
    )
    session_decay: float = Field(
        0.8,
        gt=0,
        le=1,
        description="`sr_prefix`: weight of the item i steps back in the session is decay**i.",
    )
    vsknn_neighbours: int = Field(
        100,
        ge=1,
        le=10_000,
        description="`vsknn`: the k most similar training sessions that vote (session-kNN "
        "with position decay, Ludewig & Jannach 2018).",
    )
    vsknn_sample: int = Field(
        500,
        ge=1,
        le=100_000,
        description="`vsknn`: candidate sessions per item, the most recent first (bounds the "
        "cost on popular items, as in the original).",
    )


class EvaluateConfig(Section):
    """Next-item evaluation on the held-out time split, slices and diagnostics.

    Two tasks, each case being one next event of a held-out session (the items already in
    that session removed from every list, as a shop would): `next_item` ranks by the
    session's last item only (what item_recs.parquet answers), `session` by the whole recent
    session (what user lists and live session recall answer)."""

    ks: list[int] = Field([10, 20], description="Cut-offs for HR@K, MRR@K, NDCG@K.")

    @field_validator("ks")
    @classmethod
    def _positive_ks(cls, value: list[int]) -> list[int]:
        if not value or any(k < 1 or k > 1000 for k in value):
            raise ValueError("every K must be between 1 and 1000")
        return sorted(set(value))

    baselines: Baselines = Baselines()
    exclude_session_items: bool = Field(
        True,
        description="Remove the items already in the session from every list before "
        "reading HR/MRR (the protocol of the session-based literature). False scores the "
        "raw lists (repeat consumption counts as a hit).",
    )
    list_depth: int = Field(
        50,
        ge=0,
        le=1000,
        description="Lists are scored this much deeper than the largest K, so removing the "
        "session's items still leaves K candidates (a target below that depth is a miss).",
    )
    max_cases: int | None = Field(
        10_000,
        ge=1,
        description="Largest number of next-item cases scored (None: every one). Beyond it "
        "whole held-out sessions are sampled by a hash of their number (repeatable), and "
        "only their items' baseline and model lists are computed, so the evaluation's cost "
        "stops growing with the log (a 10M-event log holds ~1M cases): 10,000 cases put "
        "the standard error of an HR@20 near 0.45 points, and the gate's lift rules test "
        "the paired difference with that error (gate.significance).",
    )
    session_cases: int = Field(
        10_000,
        ge=0,
        description="Largest number of cases of the `session` task (whole held-out "
        "sessions are sampled by a hash of their id, so a run is repeatable); 0 skips the "
        "task. Its baselines are per case, so this bounds the cost on big logs; 10,000 "
        "like evaluate.max_cases (the session task's cases are drawn from those).",
    )
    select_weights: bool = Field(
        True,
        description="Choose the channel weights on half of the held-out sessions and gate "
        "the model on the other half: from the tuner's grid (the embedding alone and mixed "
        "with the count channel and popularity, and those alone) when no config layer sets "
        "export.item_weights, session_weights or recency_decay; else the configured weights "
        "against the count channel alone and popularity alone (tuned weights that no longer "
        "win on newer sessions are replaced, with a warning). A mix with the embedding must "
        "beat the better of those two by a standard error. A log where popularity or "
        "co-occurrence wins (small baskets) then gets lists that match them instead of a "
        "refusal. Off: the configured weights, every sampled case gated.",
    )
    select_cases: int = Field(
        5_000,
        ge=1,
        description="About how many next-item cases evaluate.select_weights chooses on when "
        "the log holds more than evaluate.max_cases plus these (a smaller log is cut in two "
        "halves): enough to tell the weightings apart (a paired standard error of ~0.003 "
        "HR), and the choice's FAISS searches follow them.",
    )
    select_min_cases: int = Field(
        500,
        ge=1,
        description="Fewest next-item cases in the choosing half for evaluate.select_weights "
        "to choose: below it, a choice among 18 weightings would follow noise (at HR 0.3, "
        "500 cases have a standard error of 0.02), so the configured weights stay.",
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
    baselines: list[BaselineName] = Field(
        list(ITEM_BASELINES + SESSION_BASELINES),
        description="Baselines the published lists compete with. Item lists (next-item "
        "task) are compared with the strongest of the item baselines here, session/user "
        "lists (session task) with the strongest of the session baselines; drop one only "
        "when it is not a meaningful competitor for your data.",
    )
    min_lift: float = Field(
        0.0,
        ge=-1,
        le=10,
        description="Required relative lift of the published lists' HR@K over the strongest "
        "baseline of their kind (0 = never worse, 0.05 = at least 5% better).",
    )
    significance: float = Field(
        1.64,
        ge=0,
        le=10,
        description="The lift rules refuse only a shortfall larger than this many standard "
        "errors of the paired difference on the same cases (1.64: one-sided 95%): two "
        "equally good lists differ by chance on a finite test split. Against the best of m "
        "baselines of a kind the gate asks the Bonferroni-corrected value (one-sided "
        "95%/m: 2.32 for five item baselines), since the best of several level baselines "
        "is ahead by chance. 0 compares the point estimates.",
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
