"""Clustering quality and a 2-D projection of an embedding sample, on FAISS and numpy.

The diagnostics need k-means, three textbook scores and a PCA on at most a few thousand
vectors. scikit-learn has them all, but importing it cost ~0.5 s of every run (a third of
the evaluate stage on a small log) for work of a few milliseconds; FAISS, which the run
has loaded already, has k-means, and the rest is a handful of array operations. The
scores follow scikit-learn's definitions (Euclidean distance; NMI with the arithmetic
mean of the entropies), and tests/evaluate/test_clusters.py holds them to its results.
"""

from __future__ import annotations

import faiss
import numpy as np


def kmeans(x: np.ndarray, k: int, seed: int = 0, restarts: int = 3) -> np.ndarray:
    """Labels of the best of `restarts` k-means runs (k-means++ seeding, Arthur and
    Vassilvitskii 2007, then 25 Lloyd iterations) on the rows of x. Random seeding puts
    two centres in one well separated group more often than not, and Lloyd never moves
    them out."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    # FAISS subsamples above 256 points a centroid and warns below 39: neither applies
    # to a diagnostic sample, which is clustered whole.
    km = faiss.Kmeans(
        x.shape[1],
        k,
        niter=25,
        nredo=restarts,
        seed=seed,
        min_points_per_centroid=1,
        max_points_per_centroid=max(256, len(x)),
        init_method=faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS,
    )
    km.train(x)
    _, labels = km.index.search(x, 1)
    return labels[:, 0].astype(np.int64)


def _distances(x: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)  # the expansion leaves rounding noise where it must be 0
    return np.sqrt(d2)


def silhouette(x: np.ndarray, labels: np.ndarray, sample_size: int, seed: int = 0) -> float:
    """Mean silhouette (Rousseeuw 1987) over a random sample of `sample_size` rows: the
    pairwise distances are O(n^2), so the sample keeps it cheap at any catalogue size.
    A point alone in its cluster scores 0."""
    x = np.asarray(x, dtype=np.float64)
    if sample_size < len(x):
        keep = np.random.default_rng(seed).choice(len(x), sample_size, replace=False)
        x, labels = x[keep], labels[keep]
    names, labels = np.unique(labels, return_inverse=True)
    if not 2 <= len(names) <= len(x) - 1:
        raise ValueError(f"silhouette needs 2..{len(x) - 1} clusters, got {len(names)}")
    onehot = np.eye(len(names))[labels]
    sizes = onehot.sum(axis=0)
    # Sum of distances from each point to each cluster; the own cluster excludes the point.
    per_cluster = _distances(x) @ onehot
    own = per_cluster[np.arange(len(x)), labels]
    own_size = sizes[labels] - 1
    a = np.divide(own, own_size, out=np.zeros_like(own), where=own_size > 0)
    mean_other = per_cluster / sizes
    mean_other[np.arange(len(x)), labels] = np.inf
    b = mean_other.min(axis=1)
    s = np.divide(b - a, np.maximum(a, b), out=np.zeros_like(a), where=np.maximum(a, b) > 0)
    return float(np.where(own_size > 0, s, 0.0).mean())


def davies_bouldin(x: np.ndarray, labels: np.ndarray) -> float:
    """Davies-Bouldin index (1979): mean over clusters of the worst ratio of summed
    spreads to centroid distance. Lower is better; 0 for points on their centroids."""
    x = np.asarray(x, dtype=np.float64)
    _, labels = np.unique(labels, return_inverse=True)
    k = labels.max() + 1
    centroids = np.stack([x[labels == c].mean(axis=0) for c in range(k)])
    spread = np.array(
        [np.linalg.norm(x[labels == c] - centroids[c], axis=1).mean() for c in range(k)]
    )
    between = _distances(centroids)
    if np.allclose(spread, 0) or np.allclose(between, 0):
        return 0.0
    between[between == 0] = np.inf
    ratios = (spread[:, None] + spread[None, :]) / between
    return float(ratios.max(axis=1).mean())


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(truth: list, labels: np.ndarray) -> float:
    """Normalised mutual information (arithmetic mean of the two entropies), 1 when the
    clusters are the categories up to renaming."""
    _, t = np.unique(np.asarray(truth, dtype=object).astype(str), return_inverse=True)
    _, c = np.unique(labels, return_inverse=True)
    if t.max() == 0 and c.max() == 0:
        return 1.0
    table = np.zeros((t.max() + 1, c.max() + 1))
    np.add.at(table, (t, c), 1)
    joint = table / table.sum()
    outer = joint.sum(axis=1, keepdims=True) @ joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    mi = float((joint[nz] * np.log(joint[nz] / outer[nz])).sum())
    h = (_entropy(table.sum(axis=1)) + _entropy(table.sum(axis=0))) / 2
    return 0.0 if h <= 0 else float(np.clip(mi / h, 0.0, 1.0))


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The rows of x on their two principal axes (SVD of the centred sample)."""
    centred = np.asarray(x, dtype=np.float64) - np.mean(x, axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    # A fixed sign per axis (its largest loading positive) keeps maps of equal runs equal.
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    out = centred @ axes.T
    return out if out.shape[1] == 2 else np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
