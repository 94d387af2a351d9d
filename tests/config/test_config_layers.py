"""The one resolver: defaults -> DATA_DIR/tuned.yaml -> the explicitly given keys, for the
CLI and for a deployment alike; moved keys refused in a config, carried over in a champion's."""

from __future__ import annotations

import json

import pytest

from helpers import FAST, run_cli
from recsys.config import (
    PipelineConfig,
    load_config,
    migrate_config,
    refresh_config,
    resolve_config,
    with_keys,
)
from recsys.errors import UsageError
from recsys.layout import tuned_path

TUNED = "train:\n  window: 5\n  epochs: 7\nexport:\n  scoring: in_in\n"


def test_tuned_yaml_is_read_and_only_given_keys_override_it(tmp_path):
    tuned_path(tmp_path).write_text(TUNED)
    cfg = resolve_config(None, data_dir=tmp_path)
    assert (cfg.train.window, cfg.train.epochs, cfg.export.scoring) == (5, 7, "in_in")
    explicit = load_config([], ["train.epochs=3"])  # what the CLI builds from --set
    cfg = resolve_config(explicit, data_dir=tmp_path)
    assert (cfg.train.window, cfg.train.epochs, cfg.export.scoring) == (5, 3, "in_in")
    # a deployment's partial dict, validated by Prefect into a PipelineConfig, is the same
    cfg = resolve_config(PipelineConfig.model_validate({"train": {"epochs": 4}}), data_dir=tmp_path)
    assert (cfg.train.window, cfg.train.epochs) == (5, 4)
    assert resolve_config({"train": {"epochs": 4}}, data_dir=tmp_path) == cfg
    # a key given at its default value still wins over tuned.yaml
    assert resolve_config(load_config([], ["train.window=3"]), data_dir=tmp_path).train.window == 3
    # no data dir (a search): the defaults
    assert resolve_config(explicit).train.window == PipelineConfig().train.window


def test_a_bad_tuned_yaml_is_a_usage_error(tmp_path):
    tuned_path(tmp_path).write_text("train:\n  epoch: 5\n")
    with pytest.raises(UsageError, match=r"train\.epoch"):
        resolve_config(None, data_dir=tmp_path)
    assert run_cli("run", "--data-dir", tmp_path) == 2


def test_a_search_skips_a_bad_tuned_yaml_and_says_why(tmp_path):
    """Runs refuse a broken tuned.yaml; a search, which replaces it, starts from the
    defaults instead of failing on the file it was asked to rewrite."""
    tuned_path(tmp_path).write_text("train:\n  epochs: abc\n  window: 3\n")
    with pytest.raises(UsageError, match=r"train\.epochs.*\(fix it, or `recsys tune` replaces"):
        resolve_config(None, data_dir=tmp_path)
    problems: list[str] = []
    cfg = resolve_config(None, data_dir=tmp_path, on_bad_tuned=problems.append)
    assert cfg.train == PipelineConfig().train  # no key of the broken file is used
    assert len(problems) == 1 and problems[0].startswith(f"{tuned_path(tmp_path)}: ")
    tuned_path(tmp_path).write_bytes(b"\xff\xfe binary")
    resolve_config(None, data_dir=tmp_path, on_bad_tuned=problems.append)
    assert "is not UTF-8 text" in problems[-1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("quality.min_year=2000", "quality.min_year moved to extract.min_year"),
        (
            "quality.future_tolerance_hours=1",
            "quality.future_tolerance_hours moved to extract.future_tolerance_hours",
        ),
    ],
)
def test_the_moved_time_bounds_are_refused_with_a_pointer(tmp_path, override, message, capsys):
    with pytest.raises(UsageError, match=message):
        load_config([], [override])
    assert run_cli("run", "--set", override, "--data-dir", tmp_path / "data") == 2
    assert message in capsys.readouterr().err
    key, _, value = override.replace("quality.", "").partition("=")
    moved = load_config([], [f"extract.{key}={value}"])
    assert getattr(moved.extract, key) == float(value)


def test_a_published_config_of_an_older_version_is_carried_over():
    old = PipelineConfig().model_dump(mode="json")
    bounds = {k: old["extract"].pop(k) for k in ("min_year", "future_tolerance_hours")}
    old["quality"] |= {"min_year": 2001, "future_tolerance_hours": 2.0}
    old["gate"]["min_lift_over_popularity"] = 0.1
    old["ops"].pop("task_runner")
    old["tune"]["task_runner"] = "dask"
    cfg = PipelineConfig.model_validate(migrate_config(old))
    assert (cfg.extract.min_year, cfg.extract.future_tolerance_hours) == (2001, 2.0)
    assert cfg.ops.task_runner == "dask"
    assert "min_year" in old["quality"]  # the caller's tree is left as it was
    current = PipelineConfig().model_dump(mode="json")
    assert migrate_config(current) is current
    assert bounds == {"min_year": 1995, "future_tolerance_hours": 24.0}


def test_refresh_keeps_the_champions_training_and_scoring():
    champion = PipelineConfig.model_validate(
        {"train": {"epochs": 3, "window": 9}, "export": {"scoring": "in_in", "k": 7}}
    ).model_dump(mode="json")
    explicit = load_config([], ["train.epochs=50", "export.scoring=in_out", "export.k=5"])
    cfg = refresh_config(champion, explicit)
    assert (cfg.train.epochs, cfg.train.window, cfg.export.scoring) == (3, 9, "in_in")
    assert cfg.export.k == 5 and cfg.extract.incremental is True
    assert refresh_config(champion, None).export.k == 7


def test_with_keys_adds_to_the_given_keys_only():
    explicit = with_keys(load_config([], ["train.epochs=3"]), {"extract": {"incremental": True}})
    assert explicit.model_dump(exclude_unset=True) == {
        "train": {"epochs": 3},
        "extract": {"incremental": True},
    }


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_a_flow_started_like_a_deployment_starts_from_tuned_yaml(tmp_path, planted_events):
    """A deployment passes prefect.yaml's partial `config` dict: the flow still starts from
    DATA_DIR/tuned.yaml, and the keys the deployment gives win over it."""
    from recsys.flows.pipeline import pipeline

    data = tmp_path / "data"
    data.mkdir()
    tuned_path(data).write_text("train:\n  window: 5\n  epochs: 7\n")
    given = {"train": {"epochs": 4, "vector_size": 32, "workers": 1}}
    result = pipeline(events=str(planted_events), data_dir=str(data), config=given)
    manifest = json.loads((data / "runs" / result["run_id"] / "manifest.json").read_text())
    assert manifest["config"]["train"]["window"] == 5  # from tuned.yaml
    assert manifest["config"]["train"]["epochs"] == 4  # the deployment's key wins


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_the_cli_passes_only_the_given_keys(tmp_path, planted_events):
    data = tmp_path / "data"
    data.mkdir()
    tuned_path(data).write_text("train:\n  window: 5\n")
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    manifest = json.loads((data / "published" / "current" / "manifest.json").read_text())
    assert manifest["config"]["train"]["window"] == 5 and manifest["config"]["train"]["epochs"] == 5
    assert manifest["schema_version"] == 1
