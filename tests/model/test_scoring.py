"""The channel fusion and the count channel, on lists whose answers are worked out by hand
or by a plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.model import index
from recsys.model.counts import CountLists, top_of_sparse
from recsys.model.scoring import Channels, fuse, popularity_lists, source_labels


def _reference(channels, weights, row, k):
    """CombSUM of min-max normalised scores, written out per item."""
    total, mask = {}, {}
    for c, ((ids, scores), w) in enumerate(zip(channels, weights, strict=True)):
        if w == 0:
            continue
        listed = [(i, s) for i, s in zip(ids[row], scores[row], strict=True) if i >= 0]
        if not listed:
            continue
        lo, hi = min(s for _, s in listed), max(s for _, s in listed)
        for i, s in listed:
            scaled = 1.0 if hi == lo else (s - lo) / (hi - lo)
            total[i] = total.get(i, 0.0) + w * scaled
            mask[i] = mask.get(i, 0) | (1 << c)
    ranked = sorted(total.items(), key=lambda t: (-t[1], t[0]))[:k]
    return [i for i, _ in ranked], [s for _, s in ranked], [mask[i] for i, _ in ranked]


def test_fuse_matches_the_definition_on_random_lists():
    rng = np.random.default_rng(3)
    n, depth, items = 60, 12, 40
    channels = []
    for width in (depth, depth - 4, depth):
        ids = np.array([rng.choice(items, width, replace=False) for _ in range(n)])
        ids[:, width - 2 :] = -1  # short lists are padded
        channels.append((ids, rng.random((n, width)).astype(np.float32)))
    weights = (1.0, 0.5, 0.2)
    got_ids, got_scores, got_mask = fuse(channels, weights, 15)
    for row in range(n):
        ids, scores, mask = _reference(channels, weights, row, 15)
        assert got_ids[row][: len(ids)].tolist() == ids
        np.testing.assert_allclose(got_scores[row][: len(ids)], scores, rtol=1e-5, atol=1e-6)
        assert got_mask[row][: len(ids)].tolist() == mask
        assert (got_ids[row][len(ids) :] == -1).all()


def test_fuse_by_hand_and_zero_weights():
    # Channel 0 lists 5 > 6 > 7; channel 1 lists 7 > 8. Weights 1 and 1.
    emb = (np.array([[5, 6, 7]]), np.array([[3.0, 2.0, 1.0]]))
    count = (np.array([[7, 8]]), np.array([[10.0, 0.0]]))
    ids, scores, mask = fuse([emb, count], (1.0, 1.0), 4)
    # 5: 1 + 0, 7: 0 + 1 (tie at 1.0, smaller id first), 6: 0.5, 8: 0 + 0.
    assert ids.tolist() == [[5, 7, 6, 8]]
    np.testing.assert_allclose(scores, [[1.0, 1.0, 0.5, 0.0]])
    assert source_labels(mask, ("item2vec", "sr", "popularity")).tolist() == [
        ["item2vec", "item2vec+sr", "item2vec", "sr"]
    ]
    # A channel of weight 0 is not consulted: 8 disappears.
    ids, _, _ = fuse([emb, count], (1.0, 0.0), 4)
    assert ids.tolist() == [[5, 6, 7, -1]]


def test_popularity_at_weight_zero_fills_a_short_list():
    # The count channel lists 7 > 8 only; popularity (weight 0) lists 9 > 7 > 5 > 3.
    emb = (np.full((1, 0), -1), np.zeros((1, 0), np.float32))
    count = (np.array([[7, 8]]), np.array([[2.0, 1.0]]))
    popular = (np.array([[9, 7, 5, 3]]), np.array([[4.0, 3.0, 2.0, 1.0]]))
    for rows in (1, 3):  # the one-row path of a server and the batch path
        many = [(np.repeat(i, rows, 0), np.repeat(s, rows, 0)) for i, s in (emb, count, popular)]
        ids, scores, mask = fuse(many, (0.0, 1.0, 0.0), 5)
        # The count channel's items first, then popular items it did not list, scored 0.
        assert ids.tolist() == [[7, 8, 9, 5, 3]] * rows
        np.testing.assert_allclose(scores, [[1.0, 0.0, 0.0, 0.0, 0.0]] * rows)
        labels = source_labels(mask, ("item2vec", "sr", "popularity")).tolist()
        assert labels == [["sr", "sr", "popularity", "popularity", "popularity"]] * rows
        # Fused (weight > 0), popularity is a channel like the others: no fill order.
        fused = fuse(many, (0.0, 1.0, 1.0), 5)[0]
        assert fused.tolist() == [[7, 9, 5, 3, 8]] * rows


def test_count_lists_are_normalised_per_item_and_summed_per_session():
    # Item 0's list: 1 (4.0), 2 (2.0); item 3's list: 2 (1.0).
    counts = CountLists(np.array([0, 0, 3]), np.array([1, 2, 2]), np.array([4.0, 2.0, 1.0]), 5)
    ids, scores = counts.query(np.array([0]), np.array([0]), np.array([1.0]), 1, 3)
    assert ids.tolist() == [[1, 2, -1]]
    np.testing.assert_allclose(scores, [[1.0, 0.5, 0.0]])
    # A session of items 0 (weight 1) and 3 (weight 0.5): 2 gets 0.5 + 0.5 * 1.0.
    ids, scores = counts.query(np.array([0, 0]), np.array([0, 3]), np.array([1.0, 0.5]), 1, 2)
    assert ids.tolist() == [[1, 2]]
    np.testing.assert_allclose(scores, [[1.0, 1.0]])


def test_top_of_sparse_breaks_ties_by_column():
    import scipy.sparse as sp

    matrix = sp.csr_matrix(np.array([[0, 2, 2, 1, 2], [0, 0, 0, 0, 0], [3, 0, 0, 0, 0]]))
    ids, scores = top_of_sparse(matrix, 2)
    assert ids.tolist() == [[1, 2], [-1, -1], [0, -1]]
    np.testing.assert_allclose(scores, [[2, 2], [0, 0], [3, 0]])


def test_popularity_lists_and_channels_never_list_the_query_item():
    ids, scores = popularity_lists(np.array([5, 9, 9, 1]), 2, 3)
    assert ids.tolist() == [[1, 2, 0], [1, 2, 0]]
    np.testing.assert_allclose(scores[0], np.log1p([9, 9, 5]), rtol=1e-6)
    vectors = np.eye(4, dtype=np.float32) + 0.1
    queries, indexed = index.spaces(vectors, vectors, "in_out")
    counts = CountLists(np.array([1, 1]), np.array([2, 1]), np.array([1.0, 5.0]), 4)
    channels = Channels(queries, index.build_exact(indexed), counts, np.array([5, 9, 9, 1]))
    rows = np.array([1, 2])
    for ids, _ in channels.for_items(rows, 3):
        for row, listed in zip(rows, ids, strict=True):
            assert row not in listed


@pytest.mark.parametrize("scoring", ["sym", "in_out", "in_in"])
def test_a_session_query_scores_as_the_sum_of_its_items(scoring):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30, 8)).astype(np.float32)
    context = rng.normal(size=(30, 8)).astype(np.float32)
    queries, indexed = index.spaces(vectors, context, scoring)
    channels = Channels(queries, index.build_exact(indexed), None, np.ones(30))
    weights = np.array([1.0, 0.5], dtype=np.float32)
    (ids, scores), _, _ = channels.for_sessions(np.array([0, 0]), np.array([3, 7]), weights, 1, 5)
    expected = weights[0] * indexed @ queries[3] + weights[1] * indexed @ queries[7]
    np.testing.assert_allclose(scores[0], np.sort(expected)[::-1][:5], rtol=1e-4)
    assert ids[0].tolist() == np.argsort(-expected)[:5].tolist()


def test_sym_in_out_lists_items_as_in_out_and_sessions_as_sym():
    """One `sym` index answers both kinds: an item query [in_i, 0] ranks and scores as the
    `in_out` space, a session query as the `sym` space, in export (arrays) and in a server
    (rows on demand)."""
    from recsys.model.embedding import Embedding
    from recsys.model.published import channels_of

    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    context = rng.normal(size=(40, 8)).astype(np.float32)
    emb = Embedding(vectors, np.array([f"i{r}" for r in range(40)], dtype=object), context)
    rows, weights = np.array([3, 7]), np.array([1.0, 0.5], dtype=np.float32)

    def lists(scoring, lazy=False):
        idx = index.build_exact(emb.spaces(scoring)[1])
        channels = channels_of(emb, idx, scoring, None, lazy=lazy)
        item = channels.for_items(rows, 6)[0]
        session = channels.for_sessions(np.array([0, 0]), rows, weights, 1, 6)[0]
        return item, session

    split = lists("sym_in_out")
    for got, want in ((split[0], lists("in_out")[0]), (split[1], lists("sym")[1])):
        assert got[0].tolist() == want[0].tolist()
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5)
    lazy = lists("sym_in_out", lazy=True)
    assert lazy[0][0].tolist() == split[0][0].tolist()
    assert lists("sym")[0][0].tolist() != split[0][0].tolist()  # the kinds do part ways


def test_top_of_sparse_in_blocks_equals_one_block(monkeypatch):
    import scipy.sparse as sp

    from recsys.model import counts

    rng = np.random.default_rng(3)
    dense = rng.integers(0, 4, size=(300, 80)).astype(np.float32) * (rng.random((300, 80)) < 0.3)
    matrix = sp.csr_matrix(dense)
    whole = counts.top_of_sparse(matrix, 10)
    monkeypatch.setattr(counts, "TOP_BLOCK", 100)  # blocks of a few rows
    blocks = counts.top_of_sparse(matrix, 10)
    assert np.array_equal(whole[0], blocks[0]) and np.array_equal(whole[1], blocks[1])


def test_one_query_paths_equal_the_batch_paths_bit_for_bit():
    """A server answers one query with 1-D shortcuts (`CountLists._one`, `fuse` of one row);
    they must give the export's batch answers exactly: same ids, same float32 bits, ties
    (planted with repeated scores) ranked alike."""
    import scipy.sparse as sp

    rng = np.random.default_rng(7)
    for trial in range(120):
        n, m = int(rng.integers(5, 300)), int(rng.integers(1, 3000))
        scores = rng.choice([0.5, 1.0, 2.0], m) if trial % 2 else rng.random(m) * 10
        counts = CountLists(rng.integers(0, n, m), rng.integers(0, n, m), scores, n)
        size = int(rng.integers(1, min(n, 12) + 1))
        rows = rng.choice(n, size, replace=False)
        weights = (np.float32(0.8) ** np.arange(size)).astype(np.float32)
        depth = int(rng.integers(1, 50))
        one = counts.query(np.zeros(size, np.int64), rows, weights, 1, depth)
        picks = sp.csr_matrix((weights, (np.zeros(size, np.int64), rows)), shape=(1, n))
        batch = top_of_sparse(sp.csr_matrix(picks @ counts.matrix), depth)
        assert np.array_equal(one[0], batch[0])
        assert np.array_equal(one[1].view(np.int32), batch[1].view(np.int32))

        channels = []
        for _ in range(3):
            width = int(rng.integers(0, 20))
            ids = np.full((2, width), -1, np.int64)
            for q in range(2):
                listed = int(rng.integers(0, width + 1))
                ids[q, :listed] = rng.choice(40, listed, replace=False)
            values = rng.choice([1.0, 2.0], (2, width)) if trial % 2 else rng.random((2, width))
            channels.append((ids, values.astype(np.float32)))
        weights3 = tuple(float(w) for w in rng.choice([0.0, 0.5, 1.0, 2.0], 3))
        k = int(rng.integers(1, 25))
        pair = fuse(channels, weights3, k)
        single = fuse([(i[:1], s[:1]) for i, s in channels], weights3, k)
        for both, alone in zip(pair, single, strict=True):
            assert np.array_equal(both[:1].view(np.int32), alone.view(np.int32))
