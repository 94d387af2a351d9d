"""Drift metrics on planted profiles with known answers."""

from __future__ import annotations

import math

import pytest

from recsys.tasks.quality.drift_metrics import compare, previous_profile, psi


def profile(counts: dict[str, int], events: int | None = None, **overrides) -> dict:
    events = events or sum(counts.values())
    base = {
        "events": events,
        "users": 100,
        "items": len(counts),
        "events_per_day": events / 10,
        "mean_session_length": 5.0,
        "top_items": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
    }
    return {**base, **overrides}


COUNTS = {f"i{k}": 1000 - 5 * k for k in range(100)}


def test_identical_runs_do_not_drift():
    row = compare(profile(COUNTS), profile(COUNTS), top_k=100)
    assert row == {
        "events_per_day_change": 0.0,
        "users_change": 0.0,
        "items_change": 0.0,
        "mean_session_length_change": 0.0,
        "top_overlap": 1.0,
        "popularity_psi": pytest.approx(0.0, abs=1e-12),
    }


def test_half_the_items_renamed():
    renamed = {(f"{k}-new" if int(k[1:]) % 2 else k): n for k, n in COUNTS.items()}
    now = profile(renamed)
    now["previous_top_counts"] = {k: n for k, n in renamed.items() if k in COUNTS}
    row = compare(profile(COUNTS), now, top_k=100)
    assert row["top_overlap"] == 0.5
    assert row["items_change"] == 0.0 and row["events_per_day_change"] == 0.0
    assert row["popularity_psi"] > 1.0  # half the mass moved to 'rest': far beyond 0.25


def test_relative_changes():
    before = profile(COUNTS, users=100, mean_session_length=4.0)
    now = profile(COUNTS, users=150, mean_session_length=2.0)
    row = compare(before, now, top_k=100)
    assert row["users_change"] == pytest.approx(0.5)
    assert row["mean_session_length_change"] == pytest.approx(0.5)


def test_psi_of_a_known_shift():
    # Two buckets 50/50 -> 80/20 plus an empty rest: PSI = 0.3 ln(1.6) + 0.3 ln(2.5).
    expected = 0.3 * math.log(1.6) + 0.3 * math.log(2.5)
    assert psi({"a": 50, "b": 50}, 100, {"a": 80, "b": 20}, 100) == pytest.approx(expected)


def test_nothing_published_means_no_previous_profile(tmp_path):
    assert previous_profile(tmp_path) is None
