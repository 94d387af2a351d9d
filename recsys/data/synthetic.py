"""Deterministic synthetic events with planted structure, for tests and benchmarks.

Items fall into disjoint topic groups; every session stays inside one topic (with a little
noise) and each user keeps to two topics, item popularity inside a topic is Zipf-like, and
sessions have an order to learn: each topic's items sit on a ring (a random order), and
half of the time the next item is one to three places after the previous one on its ring
(the rest is drawn by popularity) - the "what comes next" structure of a catalogue browsed
in a sequence (episodes, course modules, a product and its accessories). sessions of one user are separated by
one to six hours, events inside a session by seconds to minutes; all users start within
the same two months, so the time span does not grow with the size. Item ids read
`g<group>-i<item>`, so a test knows which items belong together.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from recsys import sqlrun
from recsys.errors import UsageError

START = 1_700_000_000  # 2023-11-14, Unix seconds


def group_of(item_id: str) -> int:
    """The planted group of a synthetic item id."""
    return int(item_id.split("-")[0][1:])


def generate(
    n_events: int,
    n_items: int = 1000,
    seed: int = 0,
    *,
    group_size: int = 25,
    noise: float = 0.05,
    mean_session: float = 8.0,
    follow: float = 0.5,
    bot_fraction: float = 0.0,
    duplicate_fraction: float = 0.0,
    span_days: float = 60.0,
    skew: float = 1.1,
    topic_skew: float = 0.0,
) -> pa.Table:
    """Events table (user_id, item_id, timestamp, event_type) with planted topic groups.

    Parameters
    ----------
    n_events, n_items, seed
        Size and seed; the same arguments always give the same table.
    group_size, noise, mean_session
        Items per topic group, share of off-topic events, mean session length.
    follow
        Share of next items that follow the previous one on its topic's ring (1-3 places
        on); 0 draws every item by popularity alone (no order to learn).
    bot_fraction
        Share of extra events from crawler users `bot<k>` (one event per second over random
        items), appended: what a bot filter should remove.
    duplicate_fraction
        Share of extra events repeating a real event 0-3 s later (tracker retries, double
        submits): what near-duplicate removal should remove.
    span_days
        Spread users' first sessions over this many days; each user's next session starts
        1-6 h after the end of the previous one, so users are active concurrently, as in a
        real log, and the span does not grow with the size.
    skew, topic_skew
        Zipf exponents of item popularity inside a topic, and of topic popularity (0: every
        topic equally popular); raise both for a heavier head (the benchmarks' 'zipf' log).
    """
    if n_events < 2 or n_items < 2:
        raise UsageError("generate needs at least 2 events and 2 items")
    rng = np.random.default_rng(seed)
    n_groups = max(1, n_items // group_size)
    group = np.arange(n_items) % n_groups
    lengths = np.maximum(2, rng.geometric(1.0 / (mean_session - 1), size=n_events // 2) + 1)
    lengths = lengths[np.cumsum(lengths) <= n_events]
    if lengths.sum() < n_events:
        lengths = np.append(lengths, n_events - lengths.sum())
    lengths = lengths[lengths > 0]
    n_sessions = len(lengths)
    n_users = max(1, n_sessions // 4)
    session_user = rng.integers(0, n_users, n_sessions)
    # Each user keeps to two topics.
    if topic_skew > 0:
        p_topic = 1.0 / np.arange(1, n_groups + 1) ** topic_skew
        tastes = rng.choice(n_groups, size=(n_users, 2), p=p_topic / p_topic.sum())
    else:
        tastes = rng.integers(0, n_groups, (n_users, 2))
    session_group = tastes[session_user, rng.integers(0, 2, n_sessions)]
    # Zipf-like popularity inside each group. Group by group in one pass over the events
    # sorted by group (a mask of all events per group was quadratic in the catalogue: a
    # million items took minutes); a group without events draws nothing, as before.
    members = [np.arange(g, n_items, n_groups) for g in range(n_groups)]
    zipf = {n: 1.0 / np.arange(1, n + 1) ** skew for n in {len(m) for m in members}}
    session_of_event = np.repeat(np.arange(n_sessions), lengths)
    event_group = session_group[session_of_event]
    by_group = np.argsort(event_group, kind="stable")
    bounds = np.searchsorted(event_group[by_group], np.arange(n_groups + 1))
    items = np.empty(n_events, dtype=np.int64)
    for g in np.flatnonzero(np.diff(bounds)):
        events = by_group[bounds[g] : bounds[g + 1]]
        p = zipf[len(members[g])]
        items[events] = rng.choice(members[g], size=len(events), p=p / p.sum())
    items = _follow_rings(rng, items, lengths, members, group, follow)
    noisy = rng.random(n_events) < noise
    items[noisy] = rng.integers(0, n_items, int(noisy.sum()))
    # Time: every user has a timeline starting within the first `span_days`; the user's
    # sessions follow each other 1-6 hours apart, so the span does not grow with the size.
    steps = rng.integers(10, 300, n_events)
    first = np.r_[0, np.cumsum(lengths)[:-1]]
    steps[first] = 0
    offsets = np.cumsum(steps) - np.repeat(np.cumsum(steps)[first], lengths)
    duration = offsets[np.cumsum(lengths) - 1]
    by_user = np.argsort(session_user, kind="stable")
    first_of_user = np.r_[True, session_user[by_user][1:] != session_user[by_user][:-1]]
    # A session starts 1-6 hours after the end of the same user's previous session.
    gaps = rng.integers(3_600, 6 * 3_600, n_sessions) + np.r_[0, duration[by_user][:-1]]
    gaps[first_of_user] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.maximum.accumulate(np.where(first_of_user, elapsed, 0))
    offsets_user = rng.integers(0, int(span_days * 86_400), n_users)
    session_start = np.empty(n_sessions, dtype=np.int64)
    session_start[by_user] = START + offsets_user[session_user[by_user]] + elapsed
    timestamps = np.repeat(session_start, lengths) + offsets
    users = session_user[session_of_event]
    users, items, timestamps = _add_noise(
        rng, users, items, timestamps, n_users, n_items, bot_fraction, duplicate_fraction
    )
    used = np.unique(items)  # ids of the items drawn only: the catalogue may be far larger
    item_ids = np.empty(n_items, dtype=object)
    item_ids[used] = [f"g{group[i]}-i{i}" for i in used.tolist()]
    # Users >= n_users are the bots.
    user_ids = np.array([f"u{u}" for u in range(n_users)], dtype=object)
    bot_ids = np.array([f"bot{u}" for u in range(users.max() + 1 - n_users)], dtype=object)
    user_text = np.concatenate([user_ids, bot_ids])[users]
    return pa.table(
        {
            "user_id": pa.array(user_text.tolist(), pa.string()),
            "item_id": pa.array(item_ids[items].tolist(), pa.string()),
            "timestamp": pa.array(timestamps, pa.int64()),
            "event_type": pa.array(["click"] * len(users), pa.string()),
        }
    )


def _follow_rings(
    rng: np.random.Generator,
    items: np.ndarray,
    lengths: np.ndarray,
    members: list[np.ndarray],
    group: np.ndarray,
    follow: float,
) -> np.ndarray:
    """Replace `follow` of the items after a session's first with an item 1-3 places after
    the previous item on its group's ring; position by position over all sessions at once,
    so 10M events take seconds."""
    if follow <= 0:
        return items
    ring_of = np.empty(len(group), dtype=np.int64)  # an item's place on its group's ring
    rings = []
    for g, m in enumerate(members):
        ring = rng.permutation(m)
        ring_of[ring] = np.arange(len(ring))
        rings.append(ring)
    offsets = np.r_[0, np.cumsum([len(r) for r in rings])[:-1]]
    flat = np.concatenate(rings) if rings else np.empty(0, np.int64)
    size = np.array([len(r) for r in rings])
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    steps = rng.choice(np.array([1, 2, 3]), size=len(items), p=[0.6, 0.25, 0.15])
    follows = rng.random(len(items)) < follow
    for t in range(1, int(lengths.max(initial=0))):
        at = starts[lengths > t] + t
        chosen = at[follows[at]]
        prev = items[chosen - 1]
        g = group[prev]
        items[chosen] = flat[offsets[g] + (ring_of[prev] + steps[chosen]) % size[g]]
    return items


def _add_noise(rng, users, items, timestamps, n_users, n_items, bot_fraction, dup_fraction):
    """Append near-duplicate events and crawler sessions (drawn after the clean log, so
    the clean part does not change with these fractions)."""
    n = len(users)
    n_dup = int(n * dup_fraction)
    if n_dup:
        which = rng.integers(0, n, n_dup)
        users = np.concatenate([users, users[which]])
        items = np.concatenate([items, items[which]])
        timestamps = np.concatenate([timestamps, timestamps[which] + rng.integers(0, 4, n_dup)])
    n_bot = int(n * bot_fraction)
    if n_bot:
        per_bot = 2_000  # a crawler hitting one page per second for ~33 minutes
        bot = np.arange(n_bot) // per_bot
        starts = rng.integers(START, int(timestamps.max()), bot.max() + 1)
        users = np.concatenate([users, n_users + bot])
        items = np.concatenate([items, rng.integers(0, n_items, n_bot)])
        timestamps = np.concatenate([timestamps, starts[bot] + np.arange(n_bot) % per_bot])
    return users, items, timestamps


def output_format(out: Path) -> str:
    """The format `out` names (by its file name), after checking that it can be written
    there: a folder, or a parent that cannot be made, is a usage error before any work."""
    out = Path(out)
    name = out.name.lower()
    if name.endswith(".parquet"):
        fmt = "parquet"
    elif name.endswith((".csv", ".csv.gz")):
        fmt = "csv"
    elif name.endswith((".jsonl", ".json", ".ndjson")):
        fmt = "json"
    else:
        raise UsageError(f"generate: cannot tell the format of '{out}' (.parquet/.csv/.jsonl)")
    if out.is_dir():
        raise UsageError(f"generate: --out {out} is a folder; name a file in it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"generate: cannot make the folder {out.parent}: {exc.strerror}") from None
    return fmt


def write(table: pa.Table, out: Path) -> Path:
    """Write as Parquet, CSV (.csv/.csv.gz) or JSON lines, by the file name."""
    fmt = output_format(out)
    try:
        with sqlrun.connect() as con:
            con.register("generated", table)
            sqlrun.run(con, "data/synthetic_write", {"path": str(out)}, idents={"format": fmt})
    except duckdb.IOException as exc:
        reason = str(exc).split("\n")[0].split(": ")[-1]
        raise UsageError(f"generate: cannot write {out}: {reason}") from None
    return Path(out)
