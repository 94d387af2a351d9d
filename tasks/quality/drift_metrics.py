"""Drift metrics: this run's quality profile against the previous successful run's (the
numbers the GX drift suite, recsys/expectations/drift.py, then judges).

Each run writes `quality_profile.json` (volumes and its top-k item counts) into its run
folder, so it is published with the model; the next run reads the one behind
`published/current` and compares. Changes are relative (|now / before - 1|); item
popularity is compared by top-k overlap and by the population stability index (PSI) over
the previous top-k items plus one 'rest' bucket.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from recsys.errors import PublishError
from recsys.layout import QUALITY_PROFILE
from recsys.model.store import current_run

_EPS = 1e-4  # floor on bucket shares so a vanished item gives a large, finite PSI term


def previous_profile(data_dir: Path) -> tuple[str, dict] | None:
    """(run id, profile) of the published run, or None when there is none to compare to."""
    try:
        run = current_run(data_dir)
    except PublishError:
        return None
    path = run / QUALITY_PROFILE
    if not path.is_file():  # published before profiles existed
        return None
    return run.name, json.loads(path.read_text())


def _change(now: float, before: float) -> float:
    if before == 0:
        return 0.0 if now == 0 else math.inf
    return abs(now / before - 1.0)


def psi(before: dict[str, int], before_total: int, now: dict[str, int], now_total: int) -> float:
    """PSI over the items of `before` plus a 'rest' bucket; totals include the rest."""
    if before_total <= 0 or now_total <= 0:
        return 0.0 if before_total == now_total else math.inf
    p = {k: v / before_total for k, v in before.items()}
    q = {k: now.get(k, 0) / now_total for k in before}
    p["\0rest"] = 1.0 - sum(p.values())
    q["\0rest"] = 1.0 - sum(q.values())
    total = 0.0
    for key, share in p.items():
        a, b = max(share, _EPS), max(q[key], _EPS)
        total += (b - a) * math.log(b / a)
    return total


def compare(before: dict, now: dict, top_k: int) -> dict:
    """One row of drift metrics (the drift checkpoint's frame)."""
    prev_top = dict(list(before["top_items"].items())[:top_k])
    cur_top = dict(list(now["top_items"].items())[:top_k])
    # Counts of this run for the previous top items, even where they left the top-k.
    cur_counts = {**now.get("previous_top_counts", {}), **cur_top}
    return {
        "events_per_day_change": _change(now["events_per_day"], before["events_per_day"]),
        "users_change": _change(now["users"], before["users"]),
        "items_change": _change(now["items"], before["items"]),
        "mean_session_length_change": _change(
            now["mean_session_length"], before["mean_session_length"]
        ),
        "top_overlap": len(prev_top.keys() & cur_top.keys()) / max(len(prev_top), 1),
        "popularity_psi": psi(prev_top, before["events"], cur_counts, now["events"]),
    }
