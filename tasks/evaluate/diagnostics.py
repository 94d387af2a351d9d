"""Diagnostics of the embedding: neighbour samples, clustering quality and a 2-D map.

They explain a model to a person (do the neighbours of popular items make sense? does the
space have structure that matches known categories?) and feed the run report; they are not
gate rules. scikit-learn and matplotlib are imported here only, lazily, so serving code
never loads them. Everything runs on a bounded sample of the most trained items, so the
cost does not grow with the catalogue.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from recsys.config import EvaluateConfig, ItemAttributes
from recsys.data.attributes import load_attributes
from recsys.layout import DIAGNOSTICS, EMBEDDING_MAP, VOCAB
from recsys.model import index
from recsys.model.embedding import Embedding

MAX_COLOURED = 8  # categories with their own colour on the map; the rest are 'other'


def neighbour_samples(
    emb: Embedding, scoring: str, rows: np.ndarray, attrs: dict, k: int = 5
) -> list[dict]:
    """The model's top-k neighbours (exact search, same scoring as serving) of `rows`."""
    if len(rows) == 0:
        return []
    queries, indexed = emb.spaces(scoring)
    _, ids = index.neighbours_without_self(index.build_exact(indexed), queries, rows, k)

    def named(row: int) -> dict:
        item = str(emb.item_ids[row])
        return {"item_id": item, "title": attrs.get(item, (None, None))[0]}

    return [
        {**named(int(row)), "neighbours": [named(int(i)) for i in hits if i >= 0]}
        for row, hits in zip(rows, ids, strict=True)
    ]


def clustering(unit: np.ndarray, categories: list[str | None], n_clusters: int) -> dict:
    """k-means on unit vectors: silhouette, Davies-Bouldin, and NMI against categories."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import (
        davies_bouldin_score,
        normalized_mutual_info_score,
        silhouette_score,
    )

    k = max(2, min(n_clusters, len(unit) - 1))
    labels = KMeans(n_clusters=k, n_init=3, random_state=0).fit_predict(unit)
    out = {
        "k": k,
        "items": len(unit),
        # Silhouette is O(n^2): a fixed-size sample keeps it cheap at any catalogue size.
        "silhouette": float(
            silhouette_score(unit, labels, sample_size=min(len(unit), 2000), random_state=0)
        ),
        "davies_bouldin": float(davies_bouldin_score(unit, labels)),
    }
    known = [i for i, c in enumerate(categories) if c is not None]
    if len(known) >= 2 and len({categories[i] for i in known}) >= 2:
        truth = [categories[i] for i in known]
        out["nmi_vs_category"] = float(normalized_mutual_info_score(truth, labels[known]))
        out["items_with_category"] = len(known)
    return out


def draw_map(unit: np.ndarray, counts: np.ndarray, categories: list[str | None], path: Path):
    """PCA to 2-D, coloured by category when known, else by log popularity; PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    xy = PCA(n_components=2, random_state=0).fit_transform(unit)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=90)
    if any(c is not None for c in categories):
        names, freq = np.unique([c or "unknown" for c in categories], return_counts=True)
        top = [n for n in names[np.argsort(-freq)] if n != "unknown"][:MAX_COLOURED]
        labels = np.array([c if c in top else "other" for c in categories], dtype=object)
        for name in [*top, "other"]:
            sel = labels == name
            if sel.any():
                ax.scatter(xy[sel, 0], xy[sel, 1], s=6, alpha=0.7, label=name)
        ax.legend(fontsize=7, markerscale=2, loc="best")
    else:
        points = ax.scatter(xy[:, 0], xy[:, 1], s=6, c=np.log1p(counts), cmap="viridis")
        fig.colorbar(points, ax=ax, label="log(1 + training count)")
    ax.set_title("Item embedding, PCA of unit input vectors")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def diagnose(
    emb: Embedding,
    scoring: str,
    out: Path,
    cfg: EvaluateConfig,
    attributes: ItemAttributes | None = None,
) -> dict:
    """Write `diagnostics.json` and `embedding_map.png` into `out`; return the dict."""
    out = Path(out)
    counts = np.asarray(pq.read_table(out / VOCAB, columns=["count"]).column(0).to_numpy())
    order = np.argsort(-counts, kind="stable")
    sample = order[: cfg.diagnostics_sample]
    attrs = load_attributes(attributes)
    unit = index.normalize(emb.vectors[sample])
    from threadpoolctl import threadpool_limits

    # One BLAS/OpenMP thread: on these small matrices k-means with a thread per core took
    # 3.3 s instead of 0.14 s on a busy 2-core machine (thread oversubscription).
    with threadpool_limits(1):
        result = _analyse(emb, scoring, out, cfg, attributes, attrs, order, unit, counts)
    (out / DIAGNOSTICS).write_text(json.dumps(result, indent=2))
    return result


def _analyse(emb, scoring, out, cfg, attributes, attrs, order, unit, counts) -> dict:
    sample = order[: cfg.diagnostics_sample]
    categories = [attrs.get(str(emb.item_ids[r]), (None, None))[1] for r in sample]
    result = {
        "sample_items": len(sample),
        "attributes": attributes.path if attributes else None,
        "items_with_title": sum(
            attrs.get(str(i), (None, None))[0] is not None for i in emb.item_ids
        ),
        "neighbours": neighbour_samples(emb, scoring, order[: cfg.neighbour_samples], attrs),
        "clustering": clustering(unit, categories, cfg.n_clusters) if len(sample) > 2 else {},
    }
    if len(sample) > 2:
        draw_map(unit, counts[sample], categories, out / EMBEDDING_MAP)
        result["map"] = EMBEDDING_MAP
    return result
