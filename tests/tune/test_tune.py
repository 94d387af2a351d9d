"""`recsys tune`: validation split only, tuned.yaml read by later runs, Dask = threads."""

from __future__ import annotations

import json

import duckdb
import pytest

from helpers import FAST, run_cli
from recsys.config import PipelineConfig, load_config
from recsys.layout import RunPaths
from recsys.tasks.extract import extract
from recsys.tasks.tune.validation import build_validation_stage

TUNE = ["--set", "tune.sampler=random", "--set", "tune.parallel=2", "--set", "train.workers=1"]


def test_validation_stage_never_sees_the_test_split(tmp_path, planted_events):
    cfg = PipelineConfig()
    paths = RunPaths.new(tmp_path, str(planted_events))
    extract(paths, cfg)
    setup = build_validation_stage(paths, cfg)
    with duckdb.connect(str(paths.stage_db), read_only=True) as con:
        cut = con.execute("select min(ts) from events where split = 'test'").fetchone()[0]
    with duckdb.connect(str(setup.stage_db), read_only=True) as con:
        last, holdout = con.execute(
            "select max(ts), count(*) filter (where split = 'test') from events"
        ).fetchone()
    assert last < cut
    assert holdout > 0
    corpus_tokens = sum(len(line.split()) for line in setup.corpus.read_text().splitlines())
    assert corpus_tokens == sum(setup.counts.values())


def _trials(data):
    files = sorted((data / "tune" / "work").glob("*/trials.json"))
    return json.loads(files[-1].read_text())


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_tune_writes_a_config_that_run_starts_from(tmp_path, planted_events):
    data = tmp_path / "data"
    args = ["tune", "--events", planted_events, "--data-dir", data, "--trials", "4", *TUNE]
    assert run_cli(*args) == 0
    tuned = data / "tuned.yaml"
    cfg = load_config([tuned])
    trials = _trials(data)
    # The search keeps its outputs, not its scratch (stage and validation databases,
    # corpora, baseline lists), and nothing a later search would sweep.
    (folder,) = (data / "tune" / "work").iterdir()
    kept = {p.name for p in folder.iterdir()}
    assert {"trials.json", "trials.svg"} <= kept
    assert not kept & {"stage.duckdb", "validation.duckdb", "corpus.txt", "owner.lock"}
    assert len(trials["trials"]) == 4
    first = trials["trials"][0]["params"]
    assert first["epochs"] == PipelineConfig().train.epochs  # the defaults are trial 0
    assert trials["summary"]["best_value"] >= trials["summary"]["default_value"]
    winner = max(trials["trials"], key=lambda t: t["value"])
    best = winner["params"]
    assert cfg.train.window == best["window"] and cfg.export.scoring == winner["scoring"]
    # How the vectors are served and the bar (the tuned baselines) come with them.
    assert cfg.export.item_weights.model_dump() == winner["item_weights"]
    assert cfg.export.count_channel == trials["summary"]["count_channel"]
    assert cfg.evaluate.baselines.sr.steps in (1, 2, 3, 5, 10, 20)

    # A later run in the same data dir starts from tuned.yaml; --set still wins.
    assert run_cli("run", "--events", planted_events, "--data-dir", data, *FAST) == 0
    manifest = json.loads((data / "published" / "current" / "manifest.json").read_text())
    assert manifest["config"]["train"]["window"] == best["window"]
    assert manifest["config"]["train"]["epochs"] == 5  # from FAST's --set

    # A new search starts from what a run would use: the tuned configuration is its trial 0
    # (it started from the defaults, and a one-trial re-tune replaced a better tuned.yaml).
    assert run_cli(*args[: -len(TUNE) - 2], "--trials", "1", *TUNE) == 0
    again = _trials(data)["trials"][0]["params"]
    assert {k: again[k] for k in best} == best


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_a_search_replaces_a_broken_tuned_yaml(tmp_path, planted_events, capsys, caplog):
    data = tmp_path / "data"
    data.mkdir()
    (data / "tuned.yaml").write_text("train:\n  epochs: abc\n")
    args = ["--events", planted_events, "--data-dir", data]
    assert run_cli("run", *args, *FAST) == 2
    assert "`recsys tune` replaces it" in capsys.readouterr().err
    assert run_cli("tune", *args, "--trials", "1", *TUNE) == 0
    assert "train.epochs" in caplog.text
    assert "trial 0 uses the defaults and this search replaces it" in caplog.text
    assert _trials(data)["trials"][0]["params"]["epochs"] == PipelineConfig().train.epochs
    assert load_config([data / "tuned.yaml"]).train.epochs in (5, 10, 20, 40)


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_dask_cluster_gives_the_sequential_results(tmp_path, planted_events):
    results = {}
    for runner in ("threads", "dask"):
        data = tmp_path / runner
        args = ["tune", "--events", planted_events, "--data-dir", data, "--trials", "3", *TUNE]
        assert run_cli(*args, "--task-runner", runner) == 0
        results[runner] = [
            (t["params"], round(t["metrics"]["item"]["hr@20"], 10)) for t in _trials(data)["trials"]
        ]
    assert results["dask"] == results["threads"]


def test_a_configuration_off_the_search_grid_is_the_first_trial():
    # `train.epochs=3` is no choice of the space: Optuna refused the enqueued first trial
    # ("'3' not in (5, 10, ...)") and tune crashed after extract and quality.
    import optuna

    from recsys.tasks.tune.space import CHOICES, new_study, space_for, suggest

    cfg = PipelineConfig.model_validate({"train": {"epochs": 3, "vector_size": 50}})
    choices = space_for(cfg)
    assert choices["epochs"] == [*CHOICES["epochs"], 3]
    assert choices["negative"] == CHOICES["negative"]  # 5 is on the grid already
    study = new_study(cfg)
    first = suggest(study.ask(), choices)
    assert (first["epochs"], first["vector_size"], first["negative"]) == (3, 50, 5)
    second = study.ask()
    assert isinstance(second, optuna.trial.Trial)
    assert suggest(second, choices)["epochs"] in choices["epochs"]


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_a_search_with_nothing_to_validate_on_fails_clean(tmp_path, planted_events):
    # No next-item case in the validation split: a max() of nothing crashed (exit 1, two
    # tracebacks) and the stage database and corpora stayed behind for good.
    data = tmp_path / "data"
    args = ["tune", "--events", planted_events, "--data-dir", data, "--trials", "2", *TUNE]
    assert run_cli(*args, "--set", "tune.validation_fraction=0.000001") == 3
    (folder,) = (data / "tune" / "work").iterdir()
    assert {p.name for p in folder.iterdir()} <= {"FAILED", "reports"}
    assert "no next-item case" in (folder / "FAILED").read_text()
    assert not (data / "tuned.yaml").exists()
