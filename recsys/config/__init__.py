"""The one typed configuration of the pipeline, a section per stage.

`PipelineConfig` is the flows' parameter, so the Prefect UI renders it as a form; every flow
builds its effective configuration with `resolve_config` (defaults, then DATA_DIR/tuned.yaml,
then the explicitly given keys; see `recsys.config.layers`).

    extract.py    extract (reading, cleaning, sessions, split, sane-time bounds)
    quality.py    quality (GX rules, severities) with its drift tolerances
    train.py      train (gensim knobs) and augment (DeepWalk)
    evaluate.py   evaluate (metrics, slices, diagnostics) and gate
    export.py     export (index, lists, business rules) and publish (retention)
    run.py        tune (the search) and ops (limits, cache, task runner, shards)
    pipeline.py   PipelineConfig: all sections
    layers.py     YAML and --set layers, the resolver, refresh layering, migration
"""

from recsys.config.evaluate import (
    Baselines,
    EvaluateConfig,
    GateConfig,
    ItemAttributes,
    SequentialRules,
)
from recsys.config.export import ChannelWeights, ExportConfig, PublishConfig
from recsys.config.extract import ColumnMap, ExtractConfig
from recsys.config.layers import (
    load_config,
    migrate_config,
    parse_override,
    read_yaml,
    refresh_config,
    resolve_config,
    with_keys,
)
from recsys.config.pipeline import PipelineConfig
from recsys.config.quality import DriftConfig, QualityConfig
from recsys.config.run import OpsConfig, TuneConfig
from recsys.config.train import AugmentConfig, TrainConfig

__all__ = [
    "AugmentConfig",
    "Baselines",
    "ChannelWeights",
    "ColumnMap",
    "DriftConfig",
    "EvaluateConfig",
    "ExportConfig",
    "ExtractConfig",
    "GateConfig",
    "ItemAttributes",
    "OpsConfig",
    "PipelineConfig",
    "PublishConfig",
    "QualityConfig",
    "SequentialRules",
    "TrainConfig",
    "TuneConfig",
    "load_config",
    "migrate_config",
    "parse_override",
    "read_yaml",
    "refresh_config",
    "resolve_config",
    "with_keys",
]
