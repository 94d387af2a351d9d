"""`PipelineConfig`: every section together, the flows' `config` parameter."""

from __future__ import annotations

from pydantic import model_validator

from recsys.config.evaluate import EvaluateConfig, GateConfig
from recsys.config.export import ExportConfig, PublishConfig
from recsys.config.extract import ExtractConfig
from recsys.config.quality import QualityConfig
from recsys.config.run import OpsConfig, TuneConfig
from recsys.config.section import Section
from recsys.config.train import AugmentConfig, TrainConfig


class PipelineConfig(Section):
    """Everything a run needs besides its input path and data directory."""

    extract: ExtractConfig = ExtractConfig()
    quality: QualityConfig = QualityConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    gate: GateConfig = GateConfig()
    export: ExportConfig = ExportConfig()
    publish: PublishConfig = PublishConfig()
    augment: AugmentConfig = AugmentConfig()
    tune: TuneConfig = TuneConfig()
    ops: OpsConfig = OpsConfig()

    @model_validator(mode="after")
    def _gate_k_evaluated(self) -> PipelineConfig:
        if self.gate.k not in self.evaluate.ks:
            self.evaluate.ks = sorted({*self.evaluate.ks, self.gate.k})
        return self
