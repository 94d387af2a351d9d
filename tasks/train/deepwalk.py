"""DeepWalk-style corpus augmentation (Perozzi et al. 2014): weighted random walks over the
directed item-transition graph, appended to the session corpus as extra "sentences".

Walks connect items that never share a session but share neighbours, which helps sparse
catalogues; on dense session data they mostly repeat what sessions already say (measure it
with `make bench ARGS=train`). Walks are generated for all start items at once, one numpy
step per position, so the cost is O(walks x length) vectorised, not a Python loop per walk.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np


def random_walks(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    n_nodes: int,
    walks_per_node: int,
    length: int,
    seed: int = 0,
) -> list[np.ndarray]:
    """Weighted random walks from every node with out-edges; a walk stops at a dead end.

    Parameters
    ----------
    src, dst, weight
        Edges sorted by `src` (node ids are 0..n_nodes-1) and their weights.
    walks_per_node, length
        Walks started from each node, and the maximum number of nodes per walk.
    """
    rng = np.random.default_rng(seed)
    order = np.argsort(src, kind="stable")
    src, dst, weight = src[order], dst[order], weight[order].astype(np.float64)
    row_start = np.searchsorted(src, np.arange(n_nodes + 1))
    cum = np.cumsum(weight)
    base = np.r_[0.0, cum][row_start[:-1]]
    total = np.r_[0.0, cum][row_start[1:]] - base
    starts = np.repeat(np.flatnonzero(total > 0), walks_per_node)
    walks = np.full((len(starts), length), -1, dtype=np.int64)
    walks[:, 0] = starts
    alive = np.ones(len(starts), dtype=bool)
    for step in range(1, length):
        node = walks[alive, step - 1]
        live = total[node] > 0
        idx = np.flatnonzero(alive)
        alive[idx[~live]] = False
        node, idx = node[live], idx[live]
        target = base[node] + rng.random(len(node)) * total[node]
        edge = np.minimum(np.searchsorted(cum, target, side="right"), len(cum) - 1)
        walks[idx, step] = dst[edge]
    return [w[w >= 0] for w in walks]


def augment_corpus(
    corpus: Path,
    out: Path,
    counts: dict[str, int],
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    walks_per_node: int,
    length: int,
    seed: int = 0,
) -> dict[str, int]:
    """Write corpus + walks to `out`; return the token counts of the combined corpus."""
    n_nodes = len(counts)
    walks = random_walks(*edges, n_nodes, walks_per_node, length, seed)
    added: Counter[str] = Counter()
    with open(out, "w") as handle, open(corpus) as original:
        for line in original:
            handle.write(line)
        for walk in walks:
            if len(walk) >= 2:
                tokens = [str(t) for t in walk]
                added.update(tokens)
                handle.write(" ".join(tokens) + "\n")
    return {token: counts.get(token, 0) + added.get(token, 0) for token in counts | added}
