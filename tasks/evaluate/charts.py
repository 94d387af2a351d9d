"""The run report's charts: the published lists against every baseline (both tasks), the
slices, and the metric over past runs. PNG images, embedded in report.html as base64 so the
report stays one self-contained file. matplotlib is imported here only, and without pyplot:
a `Figure` renders straight to the Agg canvas, so there is no global figure state to
close, nothing to make thread-safe and no GUI backend to pick (pyplot's import alone was
~0.3 s of every run)."""

from __future__ import annotations

import base64
import io

from recsys.tasks.evaluate.gate import CHAMPION, EMBEDDING, MODEL

COLOURS = {MODEL: "#cc3311", EMBEDDING: "#ee7733", CHAMPION: "#009988"}
BASELINE = "#7a8ca3"


def figure(**kwargs):
    """A matplotlib `Figure` (keywords as for `Figure`); `savefig` renders it with Agg."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _png(fig) -> str:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(out.getvalue()).decode()


def sources_chart(models: dict, k: int, title: str) -> str | None:
    """Horizontal bars of HR@k and MRR@k per source, the published lists first."""
    if not models:
        return None
    order = sorted(models, key=lambda s: (s != MODEL, s != EMBEDDING, -models[s][f"hr@{k}"]))
    # A run with ks that leave out MRR (or an old metrics.json) still gets its HR bars.
    metrics = [m for m in (f"hr@{k}", f"mrr@{k}") if all(m in models[s] for s in order)]
    fig = figure(figsize=(9, 0.35 * len(order) + 1.2))
    axes = fig.subplots(1, len(metrics), sharey=True)
    axes = list(axes) if len(metrics) > 1 else [axes]
    for ax, metric in zip(axes, metrics, strict=True):
        values = [models[s][metric] for s in order]
        colours = [COLOURS.get(s, BASELINE) for s in order]
        ax.barh(range(len(order)), values, color=colours)
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.3f}", va="center", fontsize=8)
        ax.set_xlabel(metric.upper())
        ax.set_xlim(0, max(values + [1e-9]) * 1.25)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(order)), order)
    axes[0].invert_yaxis()
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def slices_chart(slices: list[dict], k: int, sources: list[str]) -> str | None:
    """HR@k per slice (target popularity, session length, query known) for `sources`."""
    rows = [r for r in slices if r["source"] in sources]
    if not rows:
        return None
    cells = list(dict.fromkeys((r["dimension"], r["slice"]) for r in rows))
    fig = figure(figsize=(9, 3.2))
    ax = fig.subplots()
    width = 0.8 / len(sources)
    for i, source in enumerate(sources):
        got = {(r["dimension"], r["slice"]): r[f"hr@{k}"] for r in rows if r["source"] == source}
        xs = [c + i * width for c in range(len(cells))]
        ax.bar(
            xs,
            [got.get(c, 0.0) for c in cells],
            width,
            label=source,
            color=COLOURS.get(source, BASELINE) if i < 2 else "#bbbbbb",
        )
    ax.set_xticks([c + 0.4 - width / 2 for c in range(len(cells))])
    pairs = {(r["dimension"], r["slice"]): r["pairs"] for r in rows}
    ax.set_xticklabels([f"{d}\n{s}\n({pairs[(d, s)]:,})" for d, s in cells], fontsize=8)
    ax.set_ylabel(f"HR@{k}")
    ax.set_title("Next-item HR by slice (cases per slice in brackets)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def trend_chart(history: list[dict], k: int) -> str | None:
    """HR@k of every source over the kept runs, this run last."""
    if len(history) < 2:
        return None
    sources = [
        s for s in dict.fromkeys(k2 for r in history for k2 in r) if s not in ("run_id", "gate")
    ]
    fig = figure(figsize=(9, 3.2))
    ax = fig.subplots()
    xs = range(len(history))
    for source in sources:
        ys = [r.get(source) for r in history]
        ax.plot(
            xs,
            ys,
            marker="o",
            label=source,
            color=COLOURS.get(source),
            linewidth=2.5 if source == MODEL else 1,
        )
    refused = [i for i, r in enumerate(history) if r.get("gate") is False]
    for i in refused:
        ax.axvline(i, color="#cc3311", alpha=0.2)
    ax.set_xticks(
        list(xs), [r["run_id"][:15] for r in history], rotation=30, ha="right", fontsize=7
    )
    ax.set_ylabel(f"HR@{k} (next item)")
    ax.set_xlabel("run (red band: refused by the gate)")
    ax.set_title("The gate metric over runs", fontsize=10)
    ax.legend(fontsize=7, ncol=4)
    ax.grid(alpha=0.3)
    return _png(fig)


def img(data: str | None, alt: str) -> str:
    """An <img> of a base64 PNG ('' without a chart)."""
    return f'<img alt="{alt}" src="data:image/png;base64,{data}">' if data else ""
