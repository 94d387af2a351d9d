"""The diagnostics' clustering scores against scikit-learn's (a dev dependency kept for
this cross-check) and against planted clusters whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import davies_bouldin_score, normalized_mutual_info_score, silhouette_score

from recsys.tasks.evaluate import clusters


def _blobs(seed: int, n: int = 240, groups: int = 4, spread: float = 0.6):
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % groups
    centres = rng.normal(0, 3, (groups, 6))
    return (centres[truth] + rng.normal(0, spread, (n, 6))).astype(np.float32), truth


def test_kmeans_recovers_planted_groups():
    x, truth = _blobs(0, spread=0.2)
    labels = clusters.kmeans(x, 4)
    assert clusters.nmi(truth.tolist(), labels) == pytest.approx(1.0)
    assert len(set(labels.tolist())) == 4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scores_match_scikit_learn(seed):
    x, truth = _blobs(seed, spread=2.0)  # overlapping groups: scores far from their bounds
    labels = np.random.default_rng(seed).integers(0, 5, len(x))
    labels[:3] = 7  # a small cluster
    labels[3] = 9  # and a point alone in its cluster (silhouette 0)
    assert clusters.silhouette(x, labels, sample_size=len(x)) == pytest.approx(
        silhouette_score(x.astype(np.float64), labels), abs=1e-9
    )
    assert clusters.davies_bouldin(x, labels) == pytest.approx(
        davies_bouldin_score(x.astype(np.float64), labels), rel=1e-9
    )
    names = [f"c{t}" for t in truth]
    assert clusters.nmi(names, labels) == pytest.approx(
        normalized_mutual_info_score(names, labels), abs=1e-12
    )


def test_edge_cases_follow_scikit_learn():
    x, _ = _blobs(4)
    assert clusters.nmi(["a"] * 5, np.zeros(5)) == 1.0
    assert clusters.nmi(["a"] * 5, np.arange(5)) == 0.0
    same = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0)
    assert clusters.davies_bouldin(same, np.repeat(np.arange(3), 4)) == 0.0
    with pytest.raises(ValueError, match="clusters"):
        clusters.silhouette(x, np.zeros(len(x), dtype=int), sample_size=len(x))


def test_silhouette_sample_is_bounded_and_seeded():
    x, truth = _blobs(5, n=3000, spread=0.3)
    a = clusters.silhouette(x, truth, sample_size=500, seed=0)
    assert a == clusters.silhouette(x, truth, sample_size=500, seed=0)
    assert abs(a - clusters.silhouette(x, truth, sample_size=3000)) < 0.05


def test_pca_matches_scikit_learn_up_to_sign_and_is_deterministic():
    x, _ = _blobs(6)
    ours = clusters.pca_2d(x)
    theirs = PCA(n_components=2).fit_transform(x.astype(np.float64))
    for axis in range(2):
        assert np.allclose(np.abs(ours[:, axis]), np.abs(theirs[:, axis]), atol=1e-6)
    assert np.array_equal(ours, clusters.pca_2d(x))
    assert clusters.pca_2d(x[:, :1]).shape == (len(x), 2)  # one dimension: padded
