"""A run that chooses its serving weights (evaluate.select_weights): on one half of the held-out
sessions, gated on the other, never over weights a config layer set; on a log without
sequential signal it serves popularity instead of being refused; a broken embedding is mixed
out of the lists and said so.

Stages run as plain functions (no Prefect) on planted data whose right answer is known.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import events_csv
from recsys.config import (
    ChannelWeights,
    EvaluateConfig,
    ExportConfig,
    GateConfig,
    PipelineConfig,
    TrainConfig,
    resolve_config,
)
from recsys.layout import METRICS, VOCAB, RunPaths
from recsys.model.scoring import fuse
from recsys.tasks.evaluate import evaluate, write_baseline_lists
from recsys.tasks.evaluate.choice import WEIGHT_GRID, best_point
from recsys.tasks.evaluate.pooled import Pooled
from recsys.tasks.evaluate.ranks import Cases
from recsys.tasks.evaluate.selection import candidate_points, choice_notes, choose, split_sample
from recsys.tasks.evaluate.shards import Scored, load_evaluated
from recsys.tasks.extract import extract
from recsys.tasks.train import train

FAST_TRAIN = TrainConfig(epochs=5, vector_size=32, workers=1)
MIX, COUNT, POPULARITY = (1.0, 0.5, 0.3), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def _cfg(**evaluate) -> PipelineConfig:
    return PipelineConfig(evaluate=EvaluateConfig(diagnostics=False, **evaluate))


def _trained(tmp_path, events) -> RunPaths:
    paths = RunPaths.new(tmp_path / "data", str(events))
    extract(paths, PipelineConfig())
    train(paths, PipelineConfig(train=FAST_TRAIN))
    return paths


def _metrics(paths: RunPaths) -> dict:
    return json.loads((paths.out / METRICS).read_text())


def _choosing_half(tmp_path, events):
    """A trained run, the default config, the choosing half's hash range and its baseline
    lists (what `choose` is given)."""
    paths = _trained(tmp_path, events)
    cfg = _cfg()
    _, sample = split_sample(paths.stage_db, cfg.evaluate)
    lists = tmp_path / "lists.parquet"
    write_baseline_lists(paths.stage_db, cfg, lists, sample[1])
    return paths, cfg, sample, lists


def test_chosen_on_one_half_gated_on_the_other(tmp_path, planted_events):
    paths = _trained(tmp_path, planted_events)
    evaluate(paths, _cfg(select_weights=False))
    every_case = _metrics(paths)["test_pairs"]
    assert _metrics(paths)["selection"] is None

    report = evaluate(paths, _cfg())
    metrics = _metrics(paths)
    chosen = metrics["selection"]
    assert chosen["sample"] == [500_000, 1_000_000]
    # The two halves split the held-out sessions: no case both chooses and is gated.
    assert 0 < metrics["test_pairs"] < every_case
    assert metrics["test_pairs"] + chosen["cases"] == every_case
    assert report.decided == {"export": chosen["export"]}
    assert metrics["weights"]["item"] == chosen["export"]["item_weights"]
    assert metrics["weights"]["session"] == chosen["export"]["session_weights"]
    assert metrics["recency_decay"] == chosen["export"]["recency_decay"]
    assert tuple(chosen["export"]["item_weights"].values()) in WEIGHT_GRID
    # SR's lists are the best count lists of this planted log: the channel stays.
    assert metrics["count_channel"] == chosen["export"]["count_channel"] == "sr"
    assert report.details["gate"] == "passed"
    assert "Channel weights, chosen by this run on" in (paths.out / "report.html").read_text()


def test_a_big_log_gates_its_sample_and_chooses_on_another(tmp_path, planted_events):
    # The planted log's ~1,700 held-out cases play a big log: a gate sample of ~300 cases
    # and ~200 to choose on, drawn from different sessions (whole sessions: about).
    paths = _trained(tmp_path, planted_events)
    small = EvaluateConfig(diagnostics=False, max_cases=300, select_cases=200, select_min_cases=10)
    evaluate(paths, PipelineConfig(evaluate=small, gate=GateConfig(enforce=False)))
    metrics = _metrics(paths)
    lo, hi = metrics["selection"]["sample"]
    assert 0 < lo < hi < 1_000_000 and metrics["sampled_share"] == lo / 1_000_000
    assert 100 <= metrics["test_pairs"] <= 600
    assert 60 <= metrics["selection"]["cases"] <= 450


def test_configured_weights_only_meet_the_baseline_points(tmp_path, planted_events):
    given = ChannelWeights(embedding=1.0, count=2.0, popularity=0.0)
    assert candidate_points(resolve_config({"train": {"epochs": 3}})) is None  # whole grid
    tuned = resolve_config({"export": {"item_weights": given.model_dump()}})
    items, sessions = candidate_points(tuned)
    assert items == [(1.0, 2.0, 0.0), COUNT, POPULARITY]
    assert sessions == [(1.0, 0.5, 0.0), COUNT, POPULARITY]  # the configured default
    paths = _trained(tmp_path, planted_events)
    evaluate(paths, tuned.model_copy(update={"evaluate": _cfg().evaluate}))
    chosen = _metrics(paths)["selection"]
    assert chosen["configured"]["item_weights"] == given.model_dump()
    assert tuple(chosen["export"]["item_weights"].values()) in items

    fixed = PipelineConfig(
        evaluate=EvaluateConfig(diagnostics=False, select_weights=False),
        export=ExportConfig(item_weights=given),
    )
    report = evaluate(paths, fixed)
    assert _metrics(paths)["selection"] is None and report.decided == {}
    assert _metrics(paths)["weights"]["item"] == given.model_dump()
    assert (
        "Channel weights, as configured: item lists embedding 1, count 2, popularity 0"
        in (paths.out / "report.html").read_text()
    )


def test_a_log_without_sequence_serves_popularity(tmp_path):
    # Every event an independent draw from a skewed popularity: nothing to learn from order
    # or co-occurrence, so popularity is the best list there is.
    rng = np.random.default_rng(3)
    p = 1.0 / np.arange(1, 61) ** 1.2
    rows = []
    for u in range(2400):
        items = rng.choice(60, size=6, p=p / p.sum())
        rows += [(f"u{u}", f"i{i}", 1_700_000_000 + u * 600 + 30 * k) for k, i in enumerate(items)]
    paths = _trained(tmp_path, events_csv(tmp_path / "events.csv", rows))
    report = evaluate(paths, _cfg(select_min_cases=100))
    chosen = _metrics(paths)["selection"]["export"]
    assert chosen["item_weights"]["popularity"] > 0
    assert chosen["session_weights"]["popularity"] > 0
    assert report.details["gate"] == "passed"


def test_a_broken_embedding_is_mixed_out_and_said_so(tmp_path, planted_events):
    paths = _trained(tmp_path, planted_events)
    vocab = pq.read_table(paths.out / VOCAB)
    ids = np.array(vocab.column("item_id").to_pylist(), dtype=object)
    shuffled = np.random.default_rng(0).permutation(ids)
    pq.write_table(vocab.set_column(1, "item_id", pa.array(shuffled.tolist())), paths.out / VOCAB)
    report = evaluate(paths, _cfg())
    chosen = _metrics(paths)["selection"]["export"]
    assert chosen["item_weights"]["embedding"] == 0
    assert chosen["session_weights"]["embedding"] == 0
    assert report.details["embedding in the lists"] == "no"
    assert report.details["gate"] == "passed"  # the count channel's lists are sound


def test_the_count_channel_is_the_best_item_baseline_unless_configured(tmp_path, planted_events):
    # The SR lists are replaced by lists of the wrong group (each query's list shifted to
    # the next query's): a run on such a log must serve another baseline's lists as its
    # count channel, not keep SR and be refused by the gate; a configured channel stays.
    paths, cfg, sample, lists = _choosing_half(tmp_path, planted_events)
    table = pq.read_table(lists)
    sr = np.asarray(table.column("source").to_pylist()) == "sr"
    queries = np.asarray(table.column("query_id").to_pylist(), dtype=object)
    names = sorted(set(queries[sr]))
    wrong = {q: names[(i + len(names) // 2) % len(names)] for i, q in enumerate(names)}
    items = np.asarray(table.column("item_id").to_pylist(), dtype=object)
    by_query = {q: items[sr & (queries == q)] for q in names}
    swapped = items.copy()
    for q in names:
        rows = np.flatnonzero(sr & (queries == q))
        theirs = by_query[wrong[q]][: len(rows)]
        swapped[rows[: len(theirs)]] = theirs
    pq.write_table(table.set_column(3, "item_id", pa.array(swapped.tolist())), lists)

    model = Scored.of(load_evaluated(paths.out), cfg.export)
    chosen = choose(paths.stage_db, model, cfg, lists, sample)["export"]
    assert chosen["count_channel"] in {"cooc_window", "iknn", "cooccurrence"}
    assert chosen["item_weights"]["count"] > 0  # the lists it chose are worth mixing in

    named = resolve_config({"export": {"count_channel": "sr"}, "evaluate": {"diagnostics": False}})
    kept = choose(paths.stage_db, model, named, lists, sample)["export"]
    assert "count_channel" not in kept
    assert kept["item_weights"]["count"] == 0  # the broken SR lists are mixed out instead


def test_item_lists_query_the_index_the_way_that_ranks_better(tmp_path, planted_events):
    # sym and sym_in_out share one index; only how a single item queries it differs. The
    # run scores its item lists both ways and keeps the better unless a layer sets it.
    from recsys.tasks.evaluate.choice import serving_grid

    paths, cfg, sample, lists = _choosing_half(tmp_path, planted_events)
    model = Scored.of(load_evaluated(paths.out), cfg.export)
    emb = model.emb
    metric = "hr@20"

    def grid(scoring, alternatives=()):
        args = (paths.stage_db, emb, scoring, cfg, lists, "sr", 10_000, metric, sample)
        return serving_grid(*args, item_scorings=alternatives)

    alone = {s: grid(s) for s in ("sym", "sym_in_out")}

    def served(g) -> float:  # the value of the point the grid's rules would serve
        return g.item[best_point([m[metric] for m in g.item], g.item_gains)][metric]

    value = {s: served(g) for s, g in alone.items()}
    assert alone["sym"].item != alone["sym_in_out"].item  # the two ways do differ here
    both = grid("sym", ("sym", "sym_in_out"))
    assert both.item == alone[both.item_scoring].item
    assert both.session == alone["sym"].session  # session lists query the same way
    if value["sym_in_out"] != value["sym"]:
        assert both.item_scoring == max(value, key=value.get)

    chosen = choose(paths.stage_db, model, cfg, lists, sample)["export"]
    assert chosen["scoring"] == both.item_scoring
    named = resolve_config({"export": {"scoring": "sym"}, "evaluate": {"diagnostics": False}})
    assert "scoring" not in choose(paths.stage_db, model, named, lists, sample)["export"]


def _values(at: dict[tuple, float]) -> list[float]:
    return [at.get(point, 0.0) for point in WEIGHT_GRID]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # Popularity alone tied with a three-channel mix (the basket log): popularity.
        (_values({MIX: 0.5, POPULARITY: 0.5}), POPULARITY),
        # A mix better by any margin wins.
        (_values({MIX: 0.51, POPULARITY: 0.5}), MIX),
        # Everything tied: of the one-channel points, the first (the embedding alone).
        ([0.5] * len(WEIGHT_GRID), (1.0, 0.0, 0.0)),
    ],
)
def test_ties_go_to_the_fewest_channels(values, expected):
    assert WEIGHT_GRID[best_point(values)] == expected


@pytest.mark.parametrize(("wins", "served"), [(35, COUNT), (60, MIX)])
def test_a_mix_must_beat_the_best_baseline_point_by_a_standard_error(wins, served):
    # 1,000 cases: the count channel alone hits 300; the mix loses 30 of those and hits
    # `wins` others. Ahead by 0.005 with a paired standard error of 0.008: noise, the count
    # channel is served; ahead by 0.03 (error 0.009): the mix.
    count = np.zeros(1000)
    count[:300] = 1
    mix = count.copy()
    mix[:30] = 0
    mix[300 : 300 + wins] = 1
    gains = [count * 0 for _ in WEIGHT_GRID]
    gains[WEIGHT_GRID.index(COUNT)], gains[WEIGHT_GRID.index(MIX)] = count, mix
    values = [float(g.mean()) for g in gains]
    assert WEIGHT_GRID[best_point(values)] == MIX  # without the cases: the largest value
    assert WEIGHT_GRID[best_point(values, gains)] == served


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_pooled_ranks_are_the_fused_lists_ranks(exclude_seen):
    # Random lists with ties (scores on a coarse grid), padding, short and empty rows;
    # cases sharing lists, targets and session items inside and outside them, repeats.
    rng = np.random.default_rng(11)
    n, items, depth = 80, 50, 12
    channels = []
    for width in (15, 15, 10):
        ids = np.array([rng.choice(items, width, replace=False) for _ in range(n)])
        ids[:, width - rng.integers(0, 4) :] = -1
        ids[rng.random(n) < 0.05] = -1
        channels.append((ids, rng.integers(0, 4, (n, width)).astype(np.float32)))
    cases = 300
    seen_case = np.repeat(np.arange(cases), 3)
    seen_item = rng.integers(-1, items, len(seen_case))
    target = rng.integers(-1, items, cases)
    target[:20] = seen_item[: 3 * 20 : 3]  # repeats: the target seen earlier in the session
    lists = rng.integers(-1, n, cases)
    held_out = Cases(lists, target, seen_case, seen_item)
    pooled = Pooled(channels)
    for weights in [*WEIGHT_GRID, (0.0, 0.0, 0.0), (2.0, 0.0, 0.5)]:
        fused = fuse(channels, weights, depth)[0]
        expected = held_out.hit_ranks(fused, exclude_seen)
        assert pooled.ranks(held_out, weights, depth, exclude_seen).tolist() == expected.tolist()


def test_notes_name_a_replaced_configuration_and_a_missing_embedding():
    def w(embedding, count, popularity):
        return {"embedding": embedding, "count": count, "popularity": popularity}

    selection = {
        "cases": 1234,
        "export": {"item_weights": w(0, 0, 1), "session_weights": w(1, 0.5, 0)},
        "configured": {"item_weights": w(1, 2, 0), "session_weights": w(1, 0.5, 0)},
    }
    details, warnings = choice_notes(selection)
    assert details == {
        "weights chosen on": "1,234 cases",
        "configured weights replaced": "item_weights",
    }
    assert len(warnings) == 1 and "configured item_weights no longer beat" in warnings[0]
    selection["export"]["session_weights"] = w(0, 1, 0)
    details, warnings = choice_notes(selection)
    assert details["embedding in the lists"] == "no" and len(warnings) == 2
    assert choice_notes(selection | {"configured": None})[0] == {
        "weights chosen on": "1,234 cases",
        "embedding in the lists": "no",
    }
