"""Training: vocabulary from DuckDB counts, bit-identical reproducible mode."""

from __future__ import annotations

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
