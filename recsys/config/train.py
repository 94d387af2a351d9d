"""The `train` section (gensim's own knob names) and `augment` (DeepWalk walks)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from recsys.config.section import Section, Seed

# TrainConfig's keys that are not gensim's.
OURS = ("refit", "init", "warm_epochs", "warm_alpha")


class TrainConfig(Section):
    """gensim Word2Vec knobs, under gensim's own names (see gensim.models.Word2Vec)."""

    vector_size: int = Field(
        64,
        ge=2,
        le=2048,
        description="Embedding dimension; 64 was level with 128 on three real logs and half "
        "the cost (training and search scale with it).",
    )
    window: Annotated[int, Field(ge=1, le=10_000)] | Literal["session"] = Field(
        10,
        description="Max distance between the centre item and a context item (1 to 10,000). "
        "'session' makes every pair of a session a context (window = "
        "extract.max_session_length, shrink_windows off): the basket mode, for logs whose "
        "order carries no signal. A shrinking window of ~10 beat whole-session windows on "
        "ordered logs and trains faster.",
    )
    sg: Literal[0, 1] = Field(
        1, description="1 = skip-gram (item2vec, Barkan & Koenigstein 2016), 0 = CBOW."
    )
    hs: Literal[0, 1] = Field(
        0,
        description="1 = hierarchical softmax (Morin & Bengio 2005) instead of negative "
        "sampling: better for very rare items, slower; context vectors then come from syn1.",
    )
    negative: int = Field(
        5,
        ge=0,
        le=100,
        description="Negative samples per positive (Mikolov et al. 2013); 5-20 suits small "
        "corpora, 2-5 large ones. 0 disables negative sampling (then set hs=1).",
    )
    ns_exponent: float = Field(
        -0.5,
        ge=-2,
        le=2,
        description="Exponent shaping the negative-sampling distribution (count**x); "
        "Caselles-Dupré et al. 2018 find values below text's 0.75, even negative, better for "
        "recommendation. -0.5 was the most robust default over three real logs; 0.75 lost "
        "10-40% HR@20 on all of them. 0 lifts whole-session recall (+2.8% on ml-100k, "
        "item lists then served in_out: export.scoring) at up to 1% of the item lists "
        "(docs/evaluation.md). `recsys tune` searches [-1, 1].",
    )
    sample: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Down-sampling threshold for frequent items. 0 keeps all: catalogues "
        "are small next to vocabularies of text, and on ml-100k 1e-5 discarded most tokens.",
    )
    min_count: int = Field(
        1,
        ge=1,
        description="Items seen fewer times are left out of the model (they get popularity "
        "fallbacks). Raise it on huge long-tail catalogues to save memory and noise.",
    )
    epochs: int = Field(
        20,
        ge=1,
        le=10_000,
        description="Passes over the corpus; Caselles-Dupré et al. 2018 found up to ~150 "
        "worth it on some logs (the tuner searches it with early stopping). At most 10,000: "
        "a run must end.",
    )
    alpha: float = Field(
        0.025,
        gt=0,
        le=1,
        description="Initial learning rate (gensim's skip-gram default); CBOW often wants "
        "0.05. Too high with many epochs over-fits frequent items.",
    )
    min_alpha: float = Field(
        0.0001, ge=0, le=1, description="Final learning rate; alpha decays linearly to it."
    )
    shrink_windows: bool = Field(
        True,
        description="Sample the effective window per item (gensim default); False uses the "
        "full window, better for baskets where order means little.",
    )
    seed: Seed = Field(
        42, description="Seed for vector initialisation and sampling: fixed runs are comparable."
    )
    workers: int = Field(
        1,
        ge=1,
        le=256,
        description="Training threads. 1 (with a fixed seed and PYTHONHASHSEED) gives "
        "bit-identical vectors; more is faster but not reproducible.",
    )
    refit: Literal["full", "warm", "off"] = Field(
        "warm",
        description="Not a gensim knob. Once the model trained on the training split passes "
        "the gate, publish one that has also learnt the held-out tail (the newest behaviour "
        "predicts the next best): 'full' trains again from scratch on every event (a second "
        "training), 'warm' continues the evaluated model on the tail's sessions only for "
        "warm_epochs epochs at warm_alpha (a few % of the cost), 'off' publishes the "
        "evaluated model. On ml-100k's true future warm matched full (HR@20 0.253 vs 0.254 "
        "item lists, 0.297 vs 0.296 session lists) at 3% of its time: docs/performance.md.",
    )
    init: Literal["scratch", "champion"] = Field(
        "scratch",
        description="Not a gensim knob. 'champion' (warm start, for scheduled runs on a "
        "growing log): continue the published champion's evaluated vectors on the training "
        "sessions newer than its training data, for warm_epochs epochs, instead of training "
        "from scratch on all of them. Falls back to scratch (and says why in the train "
        "report) without a champion, with another vector_size, or when the champion has "
        "seen events this run holds out.",
    )
    warm_epochs: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Not a gensim knob. Epochs of a warm start (refit=warm, init=champion) "
        "over its new sessions: they are few next to the whole log, so a few passes suffice.",
    )
    warm_alpha: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Not a gensim knob. Initial learning rate of a warm start (None: "
        "alpha / 10). Trained vectors need smaller steps than random ones: at full alpha "
        "the new sessions pulled them away from what the old ones taught (ml-100k item "
        "HR@20 0.249 at alpha, 0.253 at alpha / 10).",
    )

    @model_validator(mode="after")
    def _something_trains(self) -> TrainConfig:
        # gensim refuses this pair only once training starts, after extract and quality.
        if self.hs == 0 and self.negative == 0:
            raise ValueError("negative=0 needs hs=1 (negative sampling or hierarchical softmax)")
        # gensim takes any pair, and a rate that grows over the epochs can blow the vectors up.
        if self.min_alpha > self.alpha:
            raise ValueError(
                f"min_alpha ({self.min_alpha:g}) must not exceed alpha ({self.alpha:g}): the "
                "learning rate decays from alpha to min_alpha"
            )
        return self

    @field_validator("refit", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        # `--set train.refit=off` reads as YAML's boolean false: the user meant 'off'.
        return "off" if value is False else value

    def gensim_kwargs(self, max_session_length: int) -> dict:
        """Keyword arguments for gensim's Word2Vec (its own names; the rest are ours)."""
        kwargs = self.model_dump(exclude=set(OURS))
        if kwargs["window"] == "session":
            kwargs["window"], kwargs["shrink_windows"] = max_session_length, False
        return kwargs


class AugmentConfig(Section):
    """Corpus augmentation before training (DeepWalk, Perozzi et al. 2014)."""

    deepwalk_walks_per_item: int = Field(
        0,
        ge=0,
        le=1000,
        description="Random walks started from every item over the directed item-transition "
        "graph of the training sessions, appended to the corpus (0 = off). Helps sparse "
        "catalogues where many items share few sessions.",
    )
    deepwalk_walk_length: int = Field(10, ge=2, le=10_000, description="Items per random walk.")
    seed: Seed = Field(0, description="Seed of the walks.")
