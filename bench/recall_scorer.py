"""An independent scorer for the recall benchmark: the protocol a user (or an outside
checker) applies to the published lists, written without the project's SQL.

A log is cut at a time quantile: the part before goes to the pipeline, the part after is
the future. Events are cut into sessions at 30-minute gaps per user (ties in time keep the
file's order); every next event of a future session is a case. An item list is scored for
the session's last item, a session list from the whole session so far; in both the items
already in the session are removed before the cut-off. Baselines are fitted on the
pipeline's part with numpy/scipy and take their best parameters on the future itself
(hindsight: the most favourable comparison for them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

import duckdb
import numpy as np
import scipy.sparse as sp

GAP = 1800.0


@dataclass
class Log:
    """Sessions of item codes (ints) cut from one events file; `names[code]` is the id."""

    names: np.ndarray
    past: list[list[int]]  # sessions before the cut, training material for baselines
    future: list[list[int]]  # sessions after it, the cases
    cut: float


def read_log(path: str, future_share: float = 0.1, max_len: int = 200) -> Log:
    """Sessions of an events file (user_id, item_id, timestamp as Unix seconds or time)."""
    con = duckdb.connect()
    rows = con.sql(
        f"""select user_id::varchar, item_id::varchar,
        case when typeof(timestamp) like 'TIMESTAMP%' then epoch(timestamp::timestamp)
             else timestamp::double end as t,
        row_number() over () as n
        from '{path}'"""
    ).fetchall()
    ts = np.array([r[2] for r in rows])
    cut = float(np.quantile(ts, 1 - future_share))
    order = sorted(range(len(rows)), key=lambda k: (rows[k][0], rows[k][2], rows[k][3]))
    codes: dict[str, int] = {}
    past, future = [], []
    user = last = side = None
    current: list[int] = []
    for k in order:
        u, item, t, _ = rows[k]
        here = "future" if t >= cut else "past"
        if u != user or t - last > GAP or here != side:
            _close(current, side, past, future, max_len)
            current = []
        code = codes.setdefault(item, len(codes))
        if not current or current[-1] != code:
            current.append(code)
        user, last, side = u, t, here
    _close(current, side, past, future, max_len)
    return Log(np.array(list(codes), dtype=object), past, future, cut)


def _close(session, side, past, future, max_len) -> None:
    for start in range(0, len(session), max_len):
        part = session[start : start + max_len]
        if len(part) >= 2:
            (future if side == "future" else past).append(part)


def cases(sessions: list[list[int]]) -> list[tuple[list[int], int]]:
    """(session so far, next item) for every next event."""
    return [(s[:p], s[p]) for s in sessions for p in range(1, len(s))]


def hit_ranks(lists: list[list[int]], cases_: list[tuple[list[int], int]]) -> np.ndarray:
    """Rank (1-based) of each case's target in its list with the session's items removed."""
    ranks = np.zeros(len(cases_), dtype=np.int64)
    for c, (prefix, target) in enumerate(cases_):
        seen = set(prefix)
        if target in seen:
            continue
        rank = 0
        for item in lists[c]:
            if item in seen:
                continue
            rank += 1
            if item == target:
                ranks[c] = rank
                break
    return ranks


def rates(ranks: np.ndarray, k: int = 20) -> dict[str, float]:
    got = ranks[(ranks > 0) & (ranks <= k)]
    n = max(len(ranks), 1)
    return {f"hr@{k}": len(got) / n, f"mrr@{k}": float((1.0 / got).sum()) / n}


# --- baselines (fitted on the past) ---


def popularity(past, n) -> np.ndarray:
    counts = np.zeros(n)
    for s in past:
        np.add.at(counts, s, 1)
    return counts


def pairs(past, n, steps, weighting, both) -> sp.csr_matrix:
    """Sequential rules / windowed co-occurrence: pairs within `steps`, weighted by distance."""
    weight = {
        "same": lambda d: 1.0,
        "linear": lambda d: 1.0 / d,
        "log": lambda d: 1 / math.log2(d + 1),
    }
    rows, cols, vals = [], [], []
    for s in past:
        for p in range(len(s)):
            for d in range(1, min(steps, len(s) - 1 - p) + 1):
                a, b, w = s[p], s[p + d], weight[weighting](d)
                if a == b:
                    continue
                rows.append(a), cols.append(b), vals.append(w)
                if both:
                    rows.append(b), cols.append(a), vals.append(w)
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    matrix.sum_duplicates()
    return matrix


def iknn(past, n, shrink) -> sp.csr_matrix:
    rows = [k for k, s in enumerate(past) for _ in set(s)]
    cols = [i for s in past for i in set(s)]
    x = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(past), n))
    co = (x.T @ x).tocoo()
    keep = co.row != co.col
    size = np.asarray(x.sum(0)).ravel()
    r, c, v = co.row[keep], co.col[keep], co.data[keep]
    return sp.csr_matrix((v / (np.sqrt(size[r] * size[c]) + shrink), (r, c)), shape=(n, n))


def top_lists(scores: np.ndarray, depth: int) -> list[list[int]]:
    top = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
    return [[int(i) for i in row if scores[r, i] > -np.inf] for r, row in enumerate(top)]


def item_baselines(log: Log, future_cases, depth: int = 80) -> dict[str, dict]:
    """Every item baseline at its best parameters (on the future), with those parameters."""
    n = len(log.names)
    pop = popularity(log.past, n)
    tie = pop / max(pop.max(), 1) * 1e-6
    last = [prefix[-1] for prefix, _ in future_cases]

    def score(matrix) -> dict:
        dense = matrix[np.unique(last)].toarray() + tie
        where = {q: i for i, q in enumerate(np.unique(last))}
        lists = top_lists(dense, depth)
        return rates(hit_ranks([lists[where[q]] for q in last], future_cases))

    out = {
        "popularity": {
            "params": {},
            **rates(hit_ranks([top_lists(pop[None, :], depth)[0]] * len(last), future_cases)),
        }
    }
    grids = {
        "cooccurrence": [dict(steps=1, weighting="same", both=False)],
        "sr": [
            dict(steps=s, weighting=w, both=b)
            for s, w, b in product((2, 5, 10, 20), ("linear", "log"), (False, True))
        ],
        "cooc_window": [dict(steps=s, weighting="same", both=True) for s in (1, 3, 5, 10, 20)],
    }
    for name, grid in grids.items():
        best = max(
            ({"params": p, **score(pairs(log.past, n, **p))} for p in grid),
            key=lambda r: r["hr@20"],
        )
        out[name] = best
    out["iknn"] = max(
        ({"params": {"shrink": s}, **score(iknn(log.past, n, s))} for s in (0, 20, 100)),
        key=lambda r: r["hr@20"],
    )
    return out


def session_baselines(log: Log, future_cases, depth: int = 80) -> dict[str, dict]:
    """Whole-session baselines: SR summed over the last m items (decayed, each item's row
    scaled to its maximum), and session-kNN with position decay."""
    n = len(log.names)
    pop = popularity(log.past, n)
    tie = pop / max(pop.max(), 1) * 1e-6
    best_sr = None
    for s, w in product((5, 10, 20), ("log", "linear")):
        rules = pairs(log.past, n, s, w, True).tocsr()
        peak = rules.max(axis=1).toarray().ravel()
        peak[peak == 0] = 1
        scaled = sp.diags(1 / peak) @ rules
        for m, decay in product((5, 10, 20), (0.6, 0.8, 1.0)):
            query = _prefix_matrix(future_cases, n, m, decay)
            lists = top_lists((query @ scaled).toarray() + tie, depth)
            result = {
                "params": dict(steps=s, weighting=w, items=m, decay=decay),
                **rates(hit_ranks(lists, future_cases)),
            }
            if best_sr is None or result["hr@20"] > best_sr["hr@20"]:
                best_sr = result
    return {"sr_prefix": best_sr, "vsknn": _vsknn(log, future_cases, n, tie, depth)}


def _prefix_matrix(future_cases, n, m, decay) -> sp.csr_matrix:
    rows, cols, vals = [], [], []
    for c, (prefix, _) in enumerate(future_cases):
        recent = prefix[-m:]
        for age, item in enumerate(reversed(recent)):
            rows.append(c), cols.append(item), vals.append(decay**age)
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(future_cases), n))


def _vsknn(log: Log, future_cases, n, tie, depth) -> dict:
    holds = sp.csr_matrix(
        (
            np.ones(sum(len(set(s)) for s in log.past)),
            (
                [k for k, s in enumerate(log.past) for _ in set(s)],
                [i for s in log.past for i in set(s)],
            ),
        ),
        shape=(len(log.past), n),
    )
    best = None
    for k, m in product((50, 100, 200), (5, 10)):
        rows, cols, vals = [], [], []
        for c, (prefix, _) in enumerate(future_cases):
            recent = prefix[-m:]
            for age, item in enumerate(reversed(recent)):
                rows.append(c), cols.append(item), vals.append(1 - age / m)
        query = sp.csr_matrix((vals, (rows, cols)), shape=(len(future_cases), n))
        sim = (query @ holds.T).tocsr()  # every past session is a candidate (no sampling)
        keep_rows, keep_cols, keep_vals = [], [], []
        for c in range(sim.shape[0]):
            lo, hi = sim.indptr[c], sim.indptr[c + 1]
            if hi == lo:
                continue
            top = np.argsort(-sim.data[lo:hi], kind="stable")[:k]
            keep_rows += [c] * len(top)
            keep_cols += sim.indices[lo:hi][top].tolist()
            keep_vals += sim.data[lo:hi][top].tolist()
        votes = sp.csr_matrix((keep_vals, (keep_rows, keep_cols)), shape=sim.shape)
        lists = top_lists((votes @ holds).toarray() + tie, depth)
        result = {"params": dict(neighbours=k, items=m), **rates(hit_ranks(lists, future_cases))}
        if best is None or result["hr@20"] > best["hr@20"]:
            best = result
    return best
