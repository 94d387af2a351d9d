"""The hit ranks of many channel weightings of the same lists, without building the lists.

A weight search (`choice.serving_grid`: 18 weightings, each scored on up to 10,000 cases)
spent nearly all its time in `fuse`, which sorts every list once per weighting. Only each
case's target rank is needed, and that is a count: the items of the case's list that fuse
ranks ahead of the target (a larger fused score, or an equal one and a smaller id), less the
items of its session among them. The channels are pooled once (each query's distinct items,
each channel's min-max normalised score and membership); a weighting then costs one
weighted sum and one comparison per list entry. The sums are added in fuse's order and
precision, so the ranks are exactly `Cases.hit_ranks(fuse(...)[0])` (a test checks it).
"""

from __future__ import annotations

import numpy as np

from recsys.model.scoring import FILL_OFFSET, POPULARITY, minmax
from recsys.tasks.evaluate.ranks import Cases


class Pooled:
    """Channels' lists of each query pooled into its distinct items.

    Parameters
    ----------
    channels
        One (ids, scores) pair per channel, (n_queries, depth), -1 padding, as
        `Channels.for_items` / `for_sessions` return them.
    """

    def __init__(self, channels: list[tuple[np.ndarray, np.ndarray]]) -> None:
        n = channels[0][0].shape[0]
        ids = np.concatenate([c[0] for c in channels], axis=1).astype(np.int64, copy=False)
        chan = np.concatenate(
            [np.full(c[0].shape, i, np.int64) for i, c in enumerate(channels)], axis=1
        )
        norm = np.concatenate([minmax(c[0], c[1]) for c in channels], axis=1)
        # Stable: an item's entries stay in channel order, the order fuse adds them in.
        order = np.argsort(ids, axis=1, kind="stable")
        rows = np.arange(n)[:, None]
        ids, chan, norm = ids[rows, order], chan[rows, order], norm[rows, order]
        valid = ids >= 0
        first = valid.copy()
        first[:, 1:] &= ids[:, 1:] != ids[:, :-1]
        group = np.cumsum(first, axis=1) - 1
        width = max(int(first.sum(axis=1).max(initial=0)), 1)
        self.item = np.full((n, width), -1, np.int64)
        self.item[np.nonzero(first)[0], group[first]] = ids[first]
        self.score = np.zeros((len(channels), n, width), np.float32)
        self.member = np.zeros((len(channels), n, width), bool)
        at = (chan[valid], np.broadcast_to(rows, ids.shape)[valid], group[valid])
        self.score[at] = norm[valid]
        self.member[at] = True
        # (row, item) keys of the pooled entries, ascending, for `locate`.
        self.base = int(ids.max(initial=0)) + 1
        listed = self.item >= 0
        self.keys = (rows * self.base + self.item)[listed]
        self.flat = np.flatnonzero(listed)

    def totals(self, weights: tuple[float, ...]) -> np.ndarray:
        """Each pooled entry's fused score under `weights` (-inf: no weighted channel lists
        it, so fuse would not list it): float32 products summed in float64 in channel
        order, as `fuse` sums them; an entry only a filling popularity channel lists (weight
        0, see `fuse`) gets its score less FILL_OFFSET, as in `fuse`."""
        total = np.zeros(self.item.shape, np.float64)
        listed = np.zeros(self.item.shape, bool)
        for c, w in enumerate(weights[: len(self.score)]):
            if w > 0:
                part = (self.score[c] * np.float32(w)).astype(np.float64)
                total += np.where(self.member[c], part, 0.0)
                listed |= self.member[c]
        empty = np.full(self.item.shape, -np.inf)
        if len(self.score) > POPULARITY and weights[POPULARITY] <= 0:
            fill = self.score[POPULARITY].astype(np.float64) - FILL_OFFSET
            empty = np.where(self.member[POPULARITY], fill, -np.inf)
        return np.where(listed, total, empty)

    def locate(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Flat index into the pooled (n, width) arrays of each (row, item), -1 if absent."""
        key = rows * self.base + items
        ok = (rows >= 0) & (items >= 0) & (items < self.base)
        spot = np.minimum(np.searchsorted(self.keys, key), max(len(self.keys) - 1, 0))
        if len(self.keys) == 0:
            return np.full(len(key), -1, np.int64)
        ok &= self.keys[spot] == key
        return np.where(ok, self.flat[spot], -1)

    def ranks(
        self, cases: Cases, weights: tuple[float, ...], depth: int, exclude_seen: bool = True
    ) -> np.ndarray:
        """`cases.hit_ranks(fuse(channels, weights, depth)[0], exclude_seen)`."""
        total = self.totals(weights)
        flat_total = total.ravel()
        lists, target = cases.lists, cases.target
        where = self.locate(lists, target)
        mine = np.where(where >= 0, flat_total[np.maximum(where, 0)], -np.inf)
        found = np.isfinite(mine)
        row = np.maximum(lists, 0)
        ahead = (total[row] > mine[:, None]) | (
            (total[row] == mine[:, None]) & (self.item[row] < target[:, None])
        )
        position = ahead.sum(axis=1)
        found &= position < depth  # beyond the fused list's end: not listed
        rank = position + 1
        if exclude_seen and len(cases.seen):
            case, item = np.divmod(cases.seen, cases.width)
            spot = self.locate(lists[case], item)
            theirs = np.where(spot >= 0, flat_total[np.maximum(spot, 0)], -np.inf)
            before = np.isfinite(theirs) & (
                (theirs > mine[case]) | ((theirs == mine[case]) & (item < target[case]))
            )
            rank = rank - np.bincount(case[before], minlength=len(rank))
            found &= ~cases.repeat
        return np.where(found, rank, 0)
