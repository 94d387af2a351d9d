"""Diagnostics of the embedding: neighbour samples, clustering quality and a 2-D map.

They explain a model to a person (do the neighbours of popular items make sense? does the
space have structure that matches known categories?) and feed the run report; they are not
gate rules. matplotlib is imported lazily (tasks/evaluate/charts.py), so serving code
never loads it. Everything runs on a bounded sample of the most trained items, so the
cost does not grow with the catalogue.
"""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np

from recsys.config import EvaluateConfig, ItemAttributes
from recsys.data.attributes import load_attributes
from recsys.layout import DIAGNOSTICS, EMBEDDING_MAP
from recsys.model import index
from recsys.model.embedding import Embedding
from recsys.tasks.evaluate import clusters
from recsys.tasks.evaluate.charts import figure

MAX_COLOURED = 8  # categories with their own colour on the map; the rest are 'other'


def neighbour_samples(
    emb: Embedding, scoring: str, rows: np.ndarray, attrs: dict, k: int = 5
) -> list[dict]:
    """The model's top-k neighbours (exact search, same scoring as serving) of `rows`."""
    if len(rows) == 0:
        return []
    queries, indexed = emb.spaces(scoring)
    item_queries = emb.item_queries(scoring)
    queries = queries if item_queries is None else item_queries
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
    k = max(2, min(n_clusters, len(unit) - 1))
    labels = clusters.kmeans(unit, k)
    out = {
        "k": k,
        "items": len(unit),
        "silhouette": clusters.silhouette(unit, labels, sample_size=min(len(unit), 2000)),
        "davies_bouldin": clusters.davies_bouldin(unit, labels),
    }
    known = [i for i, c in enumerate(categories) if c is not None]
    if len(known) >= 2 and len({categories[i] for i in known}) >= 2:
        truth = [categories[i] for i in known]
        out["nmi_vs_category"] = clusters.nmi(truth, labels[known])
        out["items_with_category"] = len(known)
    return out


def draw_map(unit: np.ndarray, counts: np.ndarray, categories: list[str | None], path: Path):
    """PCA to 2-D, coloured by category when known, else by log popularity; PNG."""
    xy = clusters.pca_2d(unit)
    fig = figure(figsize=(6.4, 4.8), dpi=90)
    ax = fig.subplots()
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
    counts = np.asarray(emb.counts)
    order = np.argsort(-counts, kind="stable")
    sample = order[: cfg.diagnostics_sample]
    attrs = load_attributes(attributes)
    unit = index.normalize(emb.vectors[sample])
    # One FAISS thread for k-means and the neighbour samples: on these small matrices a
    # thread per core only contends (3.3 s instead of 0.14 s was measured for k-means on a
    # busy 2-core machine), and one thread sums in one order, so equal runs write equal
    # diagnostics. The setting is per OS thread; the caller's is restored.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        result = _analyse(emb, scoring, out, cfg, attributes, attrs, order, unit, counts)
    finally:
        faiss.omp_set_num_threads(threads)
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
