"""Training: vocabulary from DuckDB counts, bit-identical reproducible mode."""

from __future__ import annotations

import itertools

import numpy as np

from recsys.config import TrainConfig
from recsys.tasks.train import fit


def _corpus(tmp_path):
    rng = np.random.default_rng(0)
    lines, counts = [], {}
    for _ in range(400):
        group = rng.integers(0, 4)
        tokens = [str(group * 10 + t) for t in rng.integers(0, 10, 6)]
        lines.append(" ".join(tokens))
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path), counts


def test_reproducible_mode_is_bit_identical(tmp_path):
    corpus, counts = _corpus(tmp_path)
    cfg = TrainConfig(workers=1, seed=3, epochs=3, vector_size=16)
    first = fit(corpus, counts, cfg)
    second = fit(corpus, counts, cfg)
    assert first.wv.index_to_key == second.wv.index_to_key
    assert np.array_equal(first.wv.vectors, second.wv.vectors)
    other = fit(corpus, counts, cfg.model_copy(update={"seed": 4}))
    assert not np.array_equal(first.wv.vectors, other.wv.vectors)


def test_vocabulary_comes_from_counts_and_min_count(tmp_path):
    corpus, counts = _corpus(tmp_path)
    rare = min(counts, key=counts.get)
    cfg = TrainConfig(min_count=counts[rare] + 1, epochs=1, vector_size=8)
    model = fit(corpus, counts, cfg)
    assert rare not in model.wv.key_to_index
    assert model.wv.get_vecattr(model.wv.index_to_key[0], "count") == max(counts.values())


def test_items_of_a_group_end_up_together(tmp_path):
    corpus, counts = _corpus(tmp_path)
    model = fit(corpus, counts, TrainConfig(epochs=20, vector_size=16, window=5))
    same = [model.wv.similarity("1", "5"), model.wv.similarity("12", "17")]
    across = [model.wv.similarity("1", "15"), model.wv.similarity("12", "27")]
    assert min(same) > max(across)


def test_random_walks_follow_edges_and_weights():
    from recsys.tasks.train.deepwalk import random_walks

    # 0 -> 1 (weight 9) and 0 -> 2 (weight 1); 1 -> 0; 2 is a dead end.
    src, dst, w = np.array([0, 0, 1]), np.array([1, 2, 0]), np.array([9, 1, 1])
    walks = random_walks(src, dst, w, 3, walks_per_node=500, length=4, seed=1)
    edges = {(0, 1), (0, 2), (1, 0)}
    assert all((a, b) in edges for walk in walks for a, b in itertools.pairwise(walk))
    assert all(walk[-1] == 2 or len(walk) == 4 for walk in walks)  # stops only at dead ends
    firsts = [walk[1] for walk in walks if walk[0] == 0]
    assert 0.85 < firsts.count(1) / len(firsts) < 0.95  # follows the 9:1 weights
    assert not any(walk[0] == 2 for walk in walks)  # no walks start at a dead end


def test_warm_start_keeps_old_vectors_and_learns_new_items(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recsys.layout import CONTEXT_VECTORS, VECTORS, VOCAB
    from recsys.tasks.train.warmstart import continue_training, from_run

    corpus, counts = _corpus(tmp_path)
    cfg = TrainConfig(workers=1, epochs=3, vector_size=16)
    old = fit(corpus, counts, cfg)
    keys = old.wv.index_to_key
    run = tmp_path / "run"
    run.mkdir()
    np.save(run / VECTORS, old.wv.vectors)
    np.save(run / CONTEXT_VECTORS, old.syn1neg)
    ids = [f"item-{k}" for k in keys]
    vocab = {"item_id": ids, "count": [old.wv.get_vecattr(k, "count") for k in keys]}
    pq.write_table(pa.table(vocab), run / VOCAB)
    # This run's tokens differ from the old run's: the item id is the stable key.
    token_of = {f"item-{k}": f"t{k}" for k in keys}
    model = from_run(run, cfg, token_of)
    assert np.array_equal(model.wv[token_of["item-1"]], old.wv["1"])
    new = tmp_path / "new.txt"
    new.write_text("t1 t2 n1 n2\nn1 n2 t3\n" * 20)
    new_counts = {"t1": 20, "t2": 20, "t3": 20, "n1": 40, "n2": 40}
    continue_training(model, new, new_counts, epochs=2)
    assert "n1" in model.wv.key_to_index
    assert not np.array_equal(model.wv["t1"], old.wv["1"])  # trained further
    assert np.array_equal(model.wv[token_of["item-5"]], old.wv["5"])  # untouched item
