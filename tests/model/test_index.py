"""Serving index: choice by size, recall against exact search, persistence of parameters."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.config import ExportConfig
from recsys.model import index
from recsys.model.published import QueryRows
from recsys.model.scoring import decay_weights, weighted_sum


def clustered(n: int, dim: int = 16, clusters: int = 50, seed: int = 0):
    """Input and (differently scaled) context vectors around shared cluster centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    label = rng.integers(0, clusters, n)
    vectors = centres[label] + 0.4 * rng.normal(size=(n, dim)).astype(np.float32)
    context = centres[label] + 0.4 * rng.normal(size=(n, dim)).astype(np.float32)
    return vectors, context * rng.uniform(0.5, 1.5, (n, 1)).astype(np.float32)


def test_kind_follows_catalogue_size():
    cfg = ExportConfig(flat_max_items=100, ivfflat_max_items=1000)
    assert [index.choose_kind(n, cfg) for n in (100, 101, 1000, 1001)] == [
        "flat",
        "ivfflat",
        "ivfflat",
        "ivfpq",
    ]
    assert index.choose_kind(10, ExportConfig(index_type="ivfpq")) == "ivfpq"


CASES = [(k, s) for k in ("flat", "hnsw", "ivfflat") for s in ("sym", "in_out", "in_in")]


# IVF-PQ training is the slow one: only the default scoring.
@pytest.mark.parametrize(("kind", "scoring"), [*CASES, ("ivfpq", "in_out")])
def test_every_kind_is_close_to_exact_and_survives_a_reload(tmp_path, kind, scoring):
    queries, indexed = index.spaces(*clustered(4000), scoring)
    # pq_m=8 keeps PQ training quick; the refine step keeps recall up.
    cfg = ExportConfig(index_type=kind, pq_m=8)
    # Built as export builds it: the search beam tuned to export.recall_target.
    idx, info = index.build_tuned(queries, indexed, 20, cfg)
    assert info["kind"] == kind and idx.ntotal == 4000
    recall = index.recall_at_k(idx, queries, indexed, 20, 300)
    assert recall == 1.0 if kind == "flat" else recall >= 0.95
    index.save(idx, tmp_path, info)
    assert info["bytes_per_vector"] > 0
    again = index.load(tmp_path)
    # The reloaded index answers exactly like the built one (search parameters re-applied).
    before = index.search(idx, queries[:50], 10)[1]
    assert np.array_equal(before, index.search(again, queries[:50], 10)[1])
    if kind == "ivfpq":
        assert info["bytes_per_vector"] < 4 * indexed.shape[1]  # PQ + SQ8 < float32


def test_recall_check_catches_a_poor_index():
    queries, indexed = index.spaces(*clustered(4000), "in_in")
    cfg = ExportConfig(index_type="ivfpq", ivf_nprobe=1, pq_m=2, pq_refine=False)
    idx, _ = index.build(indexed, cfg)
    assert index.recall_at_k(idx, queries, indexed, 20, 300) < 0.8


def test_user_vector_is_recency_weighted():
    # A session's (user's) query is the decay-weighted sum of its items' query vectors.
    queries = np.eye(3, dtype=np.float32)
    owner, rows, recency = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 2]), np.array([0, 1, 2, 0])
    vectors = weighted_sum(queries, owner, rows, decay_weights(recency, 0.5), 2)
    np.testing.assert_allclose(vectors[0], [1, 0.5, 0.25], rtol=1e-6)
    np.testing.assert_allclose(vectors[1], [0, 0, 1])
    plain = weighted_sum(queries, owner, rows, decay_weights(recency, 1.0), 2)
    np.testing.assert_allclose(plain[0], [1, 1, 1], rtol=1e-6)


def test_one_session_vector_is_the_batch_vector_bit_for_bit():
    # A served session (one owner) skips the sparse product; the export's batch path must
    # give the very same float32 vector, or a user's list and the same session's live
    # answer could rank ties differently.
    rng = np.random.default_rng(7)
    for _ in range(200):
        vectors = (rng.normal(size=(300, 32)) * rng.choice([1e-3, 1, 1e3])).astype(np.float32)
        length = int(rng.integers(1, 40))
        rows = rng.integers(0, 300, length)
        weights = decay_weights(np.arange(length), float(rng.random()))
        owner = np.zeros(length, np.int64)
        one = weighted_sum(vectors, owner, rows, weights, 1)
        # The same owner's rows inside a batch of two (the sparse path).
        batch = weighted_sum(
            vectors, np.r_[owner, 1], np.r_[rows, 0], np.r_[weights, np.float32(1)], 2
        )
        assert one.shape == (1, 32) and one.dtype == np.float32
        assert np.array_equal(one[0], batch[0])


def test_query_rows_equal_the_whole_space():
    vectors, context = clustered(500)
    for scoring in index.SCORINGS:
        queries, indexed = index.spaces(vectors, context, scoring)
        lazy = QueryRows(vectors, context, scoring)
        for rows in (np.array([3, 1, 3]), slice(2, 9)):
            assert np.array_equal(lazy[rows], queries[rows])
            assert np.array_equal(lazy.indexed(rows), indexed[rows])
            items = QueryRows(vectors, context, scoring, items=True)
            own = index.item_side(vectors, context, scoring)
            assert np.array_equal(items[rows], (queries if own is None else own)[rows])


def test_tuning_raises_the_beam_until_recall_is_reached():
    queries, indexed = index.spaces(*clustered(4000), "in_out")
    cfg = ExportConfig(index_type="hnsw", hnsw_m=16, hnsw_ef_search=1)
    idx, info = index.build(indexed, cfg)
    start = index.recall_at_k(idx, queries, indexed, 20, 300)
    recall = index.tune_recall(idx, info, queries, indexed, 20, 0.98, 300)
    assert start < 0.9 <= 0.98 <= recall
    assert info["ef_search"] > 1 and idx.hnsw.efSearch == info["ef_search"]
    assert [ef for ef, _ in info["recall_tuning"]][:3] == [1, 2, 4]
    # PQ without refinement cannot be tuned past its quantization error: the gate's case.
    cfg = ExportConfig(index_type="ivfpq", ivf_nprobe=1, pq_m=2, pq_refine=False)
    idx, info = index.build(indexed, cfg)
    assert index.tune_recall(idx, info, queries, indexed, 20, 0.99, 300) < 0.9
    assert info["nprobe"] == info["nlist"]


def test_auto_keeps_ivf_only_where_it_pays_and_falls_back_to_exact():
    # Clustered vectors: IVF-Flat reaches the recall target probing few lists.
    queries, indexed = index.spaces(*clustered(6000), "in_out")
    cfg = ExportConfig(flat_max_items=1000, recall_sample=300)
    idx, info = index.build_tuned(queries, indexed, 20, cfg)
    assert info["kind"] == "ivfflat" and info["recall"] >= cfg.recall_target
    assert info["scanned_share"] <= cfg.ivf_max_scan
    # Tuning ends at the smallest beam found to reach the target (after doubling, bisected).
    assert info["nprobe"] == min(b for b, r in info["recall_tuning"] if r >= cfg.recall_target)
    assert index.recall_at_k(idx, queries, indexed, 20, 300) >= cfg.recall_target - 0.02
    # Vectors without clusters: IVF would probe most lists, so the exact index serves.
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(6000, 16)).astype(np.float32)
    idx, info = index.build_tuned(noise, noise[::-1].copy(), 20, cfg)
    assert info["kind"] == "flat" and info["recall"] == 1.0
    assert info["auto"]["tried"] == "ivfflat" and "exact" in info["auto"]["reason"]
    # A forced kind is kept whatever its recall (the recall gate judges it).
    forced = cfg.model_copy(update={"index_type": "ivfflat"})
    assert index.build_tuned(noise, noise[::-1].copy(), 20, forced)[1]["kind"] == "ivfflat"


def test_moved_size_bound_is_named():
    with pytest.raises(ValueError, match=r"moved to export\.ivfflat_max_items"):
        ExportConfig(hnsw_max_items=10)
