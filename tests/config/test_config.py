"""One typed config: YAML layers, --set overrides, and errors that name the key."""

from __future__ import annotations

import pytest

from recsys.config import PipelineConfig, load_config, parse_override
from recsys.errors import UsageError


def test_defaults_and_sections():
    cfg = load_config()
    assert isinstance(cfg, PipelineConfig)
    assert cfg.extract.session_gap_minutes == 30
    assert cfg.gate.enforce is True
    assert cfg.gate.k in cfg.evaluate.ks


def test_layers_then_overrides_win(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("train:\n  epochs: 3\n  window: 7\n")
    top = tmp_path / "top.yaml"
    top.write_text("train:\n  epochs: 4\n")
    cfg = load_config(
        [base, None, top], ["train.sg=0", "gate.enforce=false", "evaluate.ks=[5, 50]"]
    )
    assert (cfg.train.epochs, cfg.train.window, cfg.train.sg) == (4, 7, 0)
    assert cfg.gate.enforce is False
    assert cfg.evaluate.ks == [5, 20, 50]  # the gate's K is always evaluated


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epoch=3", "train.epoch"),
        ("train.sg=2", "train.sg"),
        ("extract.test_fraction=0.9", "extract.test_fraction"),
        ("noequals", "key=value"),
        ("train=3", "train"),
        ("tune.task_runner=dask", "tune.task_runner moved to ops.task_runner"),
        ("ops.task_runner=spark", "ops.task_runner"),
        ("a b=5", "dotted names"),
        ("1=5", "dotted names"),
        (".train.epochs=5", "dotted names"),
        ("train.a-b=5", "'train.a-b'"),
        ("train.=5", "dotted names"),
        ("train.epochs=" + "[" * 60 + "]" * 60, "nested more than 50 levels"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(UsageError, match=message):
        load_config([], [override])


def test_override_values_are_typed():
    assert parse_override("a.b=1") == ("a.b", 1)
    assert parse_override("a.b=0.5") == ("a.b", 0.5)
    assert parse_override("a.b=false") == ("a.b", False)
    assert parse_override("a.b=text") == ("a.b", "text")
    # A leading % is a YAML directive, never a value: a strptime format is text as typed.
    assert parse_override("a.b=%d-%m-%Y %H:%M") == ("a.b", "%d-%m-%Y %H:%M")


def test_missing_or_bad_yaml(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_config([tmp_path / "nope.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(UsageError, match="mapping"):
        load_config([bad])


def test_a_key_given_twice_is_refused_with_its_line(tmp_path):
    """PyYAML keeps the last of two equal keys: the first `train:` section would vanish."""
    twice = tmp_path / "twice.yaml"
    twice.write_text("train:\n  epochs: 3\nexport:\n  k: 7\ntrain:\n  window: 5\n")
    with pytest.raises(UsageError, match=r"key 'train' given twice in one mapping at line 5"):
        load_config([twice])
    with pytest.raises(UsageError, match=r"--set export.item_weights: .*'count' given twice"):
        parse_override("export.item_weights={count: 1, embedding: 2, count: 3}")
    # a merge key's values may be overridden: that is what `<<` is for
    merged = tmp_path / "merged.yaml"
    merged.write_text(
        "base: &w {embedding: 1, count: 2}\nexport:\n  item_weights:\n    <<: *w\n    count: 0.5\n"
    )
    with pytest.raises(UsageError, match="base"):  # the anchor's home is an unknown key
        load_config([merged])
    merged.write_text(
        "export:\n  item_weights: &w {embedding: 1, count: 2}\n"
        "  session_weights:\n    <<: *w\n    count: 0.5\n"
    )
    weights = load_config([merged]).export.session_weights
    assert (weights.embedding, weights.count) == (1, 0.5)


def test_schema_renders_as_a_form():
    # Prefect builds the UI form from the flow's parameter schema.
    from prefect.utilities.callables import parameter_schema

    from recsys.flows.pipeline import pipeline

    schema = parameter_schema(pipeline.fn).model_dump()
    assert {"events", "data_dir", "config"} <= set(schema["properties"])
    assert "TrainConfig" in schema["definitions"]


def test_a_key_that_is_not_a_name_is_named_in_the_error(tmp_path):
    odd = tmp_path / "odd.yaml"
    odd.write_text('train:\n  "a b": 1\n')
    with pytest.raises(UsageError, match="unknown key 'a b' in train"):
        load_config([odd])
    odd.write_text('"": 1\n')
    with pytest.raises(UsageError, match="unknown key '' in the top level"):
        load_config([odd])


def test_a_timestamp_format_is_checked_without_leaving_a_result_behind():
    # Checked on DuckDB's default connection, an unfetched result blocked its next user
    # ("connection has an unfinished result") anywhere later in the process.
    import duckdb

    from recsys.config import ExtractConfig

    assert ExtractConfig(timestamp_format="%d-%m-%Y").timestamp_format == "%d-%m-%Y"
    assert duckdb.sql("select 1").fetchall() == [(1,)]
    with pytest.raises(ValueError, match="%Q"):
        ExtractConfig(timestamp_format="%Y-%Q")


def test_a_tuned_yaml_that_is_no_file_is_refused(tmp_path):
    # A folder there was skipped by runs (the defaults, silently) and broke a search only
    # when it came to write its result.
    from recsys.config import resolve_config

    (tmp_path / "tuned.yaml").mkdir()
    with pytest.raises(UsageError, match=r"tuned\.yaml: not a regular file"):
        resolve_config(None, data_dir=tmp_path)
