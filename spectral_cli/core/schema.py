"""Pydantic v2 schemas shared by every training family.

Every schema is frozen and forbids unknown keys, so a typo in ``--set`` or a YAML preset is an
error instead of a silently ignored value. Families add their own ``model.*`` schema through the
registry (:mod:`spectral_cli.core.registry`); :func:`run_config_class` glues it into a
family-specific :class:`RunConfig`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model


class Frozen(BaseModel):
    """Base for every config section: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(Frozen):
    """Where the signals come from and how they become tokens.

    ``limit`` keeps the first N training signals (before the validation split) for smoke runs.
    The validation split is drawn with ``split_seed`` (not the run seed) so runs with different
    seeds are evaluated on the same held-out signals.
    """

    name: Literal["mnist1d"] = "mnist1d"
    path: Path | None = None
    limit: int | None = Field(default=None, ge=2)
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    split_seed: int = Field(default=0, ge=0, lt=2**32)
    n_tokens: int = Field(default=256, ge=2, le=1_000_000)
    clamp: float = Field(default=5.0, gt=0.0)


class TrainConfig(Frozen):
    """The generic training loop's knobs (Adam, cross-entropy)."""

    epochs: int = Field(default=40, ge=1)
    lr: float = Field(default=1e-3, gt=0.0)
    batch_size: int = Field(default=256, ge=1)
    weight_decay: float = Field(default=0.0, ge=0.0)
    grad_clip: float | None = Field(default=None, gt=0.0)
    amp: bool = False
    eval_batch_size: int = Field(default=1024, ge=1)


class RunConfig(Frozen):
    """A complete, resolved training run. ``model`` is replaced per family."""

    family: str
    seed: int = Field(default=0, ge=0, lt=2**32)
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    model: Frozen = Frozen()


@cache
def run_config_class(family: str, model_cls: type[Frozen]) -> type[RunConfig]:
    """The :class:`RunConfig` subclass whose ``model`` section is ``model_cls``."""
    name = "".join(part.capitalize() for part in family.replace("-", "_").split("_"))
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"{name}RunConfig", __base__=RunConfig, model=(model_cls, model_cls())
    )
