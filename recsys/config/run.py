"""The sections about running rather than modelling: `tune` (the search) and `ops` (limits,
caching and where parallel tasks run; none of them changes a result)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from recsys.config.section import Section, Seed, refuse_moved


class TuneConfig(Section):
    """`recsys tune`: hyperparameter search on a validation split (never the test split)."""

    trials: int = Field(
        40, ge=1, le=10_000, description="Trial budget (each trains one configuration)."
    )
    timeout_seconds: float | None = Field(
        600,
        gt=0,
        description="Wall-time budget of the trials (10 minutes: ~40 trials at ml-100k size "
        "on 2 cores), counted once the validation split is built (extract and quality "
        "come first); no trial starts after it and a running one stops at its next epoch "
        "(the first, the current configuration, always finishes). None: only the trial "
        "budget limits it.",
    )
    sampler: Literal["tpe", "random"] = Field(
        "tpe", description="Optuna sampler: TPE (Bayesian) or random search."
    )
    seed: Seed = Field(0, description="Seed of the sampler (same seed, same trials).")
    validation_fraction: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="Share of the training period held out (by time) to score trials.",
    )
    sample_fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Share of validation-training sessions each trial trains on (fast "
        "trials); the best configuration is then re-scored on all of them.",
    )
    parallel: int = Field(2, ge=1, le=256, description="Trials run at once (one core each).")
    metric: str = Field("hr@20", description="Metric to maximise (hr@K, mrr@K or ndcg@K).")
    objective: Literal["both", "item", "session"] = Field(
        "both",
        description="Which lists the search optimises, each as the ratio of its metric to "
        "the strongest tuned baseline of its kind: 'item' (item_recs), 'session' (user "
        "lists, live recall) or 'both' (their mean).",
    )
    session_cases: int = Field(
        3_000,
        ge=0,
        description="Cases of the session task scored per trial (whole validation "
        "sessions, sampled by hash); fewer make trials faster, more make them less noisy.",
    )

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        name, _, k = value.partition("@")
        if name not in ("hr", "mrr", "ndcg") or not k.isdigit() or not 1 <= int(k) <= 1000:
            raise ValueError("must look like hr@20, mrr@10 or ndcg@20")
        return value

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        return refuse_moved("tune", data)


class OpsConfig(Section):
    """Operational limits of a run (not model settings: they never change the result)."""

    train_timeout_seconds: float | None = Field(
        None,
        gt=0,
        description="Wall-time budget of the train stage. When set, training runs in a "
        "child process that is killed at the limit (gensim's C loop ignores Python "
        "timeouts) and the run fails with exit code 1; set it so a stuck or runaway "
        "nightly run frees the worker. None trains in-process without a limit.",
    )
    extract_cache: int = Field(
        1,
        ge=0,
        description="Extractions kept under DATA_DIR/cache/extract for reuse when a run "
        "reads the same input bytes with the same extract settings (each costs one stage "
        "database of disk; 0 turns the cache off). Saves the extract stage on reruns.",
    )
    # --- scale-out (docs/operations.md#scale-out-on-dask); none of these change a result ---
    task_runner: Literal["threads", "dask"] = Field(
        "threads",
        description="Where parallel tasks (tuning trials, evaluate/export shards) run: "
        "threads in this process, or a Dask cluster (a LocalCluster of dask_workers "
        "processes, or the scheduler at dask_address). `--task-runner` sets it.",
    )
    dask_address: str | None = Field(
        None,
        description="Scheduler of an existing Dask cluster (tcp://host:8786); None starts a "
        "LocalCluster for the run. Its workers must see the data directory.",
    )
    dask_dashboard: str | None = Field(
        "127.0.0.1:8787",
        pattern=r"^[^\s/]*:[0-9]{1,5}$",
        description="host:port of the LocalCluster's dashboard (call stacks and logs: keep it "
        "on loopback unless the network is trusted; port 0 picks a free one); None: no "
        "dashboard.",
    )
    dask_workers: int = Field(
        2, ge=1, le=256, description="Worker processes of the LocalCluster (one thread each)."
    )
    shards: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="Shards the evaluate and export stages are split into (by ranges of "
        "query item / user id). None: 1 on threads (DuckDB and FAISS already use every "
        "core of this machine), one per Dask worker on a cluster.",
    )
