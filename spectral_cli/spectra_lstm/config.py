"""Run schema of ``spectral train spectra-lstm``: a step-based regression experiment.

Differs from the classifier :class:`~spectral_cli.core.schema.RunConfig` sections: the data are
synthetic sines (no ``data.limit``/``data.path``: there is no dataset file to cut), training is
counted in optimizer ``steps`` (``train.steps``), and ``train.compare`` trains all four
initialisations in one run.  The generic :class:`~spectral_cli.core.trainer.Trainer` counts
epochs; one "epoch" here is ``train.eval_every`` steps over a fixed training set of
``eval_every * batch_size`` signals (re-shuffled each epoch), so ``steps`` is rounded up to a
multiple of ``eval_every``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from spectral_cli.core.limits import MAX_COUNT
from spectral_cli.core.schema import Frozen, RunConfig, TrainConfig

INITS = ("exact", "perturbed", "random", "standard")


class SpectraLSTMData(Frozen):
    """Sums of ``n_sines`` random sinusoids, ``windows`` windows of length T per sequence."""

    name: Literal["sines"] = "sines"
    n_sines: int = Field(default=3, ge=1, le=64)
    windows: int = Field(default=4, ge=1, le=4096)
    n_val: int = Field(default=128, ge=1)
    n_test: int = Field(default=256, ge=1)
    verify_windows: int = Field(default=64, ge=1, description="windows of the verify signal")


class SpectraLSTMTrain(Frozen):
    """Adam (or SGD with momentum) on normalized MSE; ``steps`` optimizer steps, evaluated every
    ``eval_every``.  ``optimizer=sgd`` exists for the drift experiment: Adam normalises the
    gradient, so at the construction (gradients at rounding level) it still takes lr-sized steps."""

    steps: int = Field(default=400, ge=1, le=MAX_COUNT)
    eval_every: int = Field(default=20, ge=1, le=MAX_COUNT)
    lr: float = Field(default=1e-3, gt=0.0)
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = Field(default=0.9, ge=0.0, lt=1.0, description="sgd only")
    batch_size: int = Field(default=32, ge=1)
    weight_decay: float = Field(default=0.0, ge=0.0)
    grad_clip: float | None = Field(default=None, gt=0.0)
    compare: bool = False

    @property
    def epochs(self) -> int:
        """Evaluation periods the generic loop runs (``ceil(steps / eval_every)``)."""
        return math.ceil(self.steps / self.eval_every)

    def loop_config(self) -> TrainConfig:
        """The generic loop's config for this experiment."""
        return TrainConfig(
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            weight_decay=self.weight_decay,
            grad_clip=self.grad_clip,
            eval_batch_size=max(self.batch_size, 256),
        )


class SpectraLSTMModel(Frozen):
    """``init`` (a-d of the issue), window ``T``, training dtype and perturbation size."""

    init: Literal["exact", "perturbed", "random", "standard"] = "exact"
    window: int = Field(default=8, ge=2, le=128)
    dtype: Literal["float64", "float32"] = "float64"
    noise: float = Field(default=1e-3, ge=0.0, description="perturbed: std in natural units")


class SpectraLSTMRunConfig(RunConfig):
    """A complete ``spectral train spectra-lstm`` run."""

    family: str = "spectra-lstm"
    data: SpectraLSTMData = SpectraLSTMData()  # type: ignore[assignment]
    train: SpectraLSTMTrain = SpectraLSTMTrain()  # type: ignore[assignment]
    model: SpectraLSTMModel = SpectraLSTMModel()

    def inits(self) -> tuple[str, ...]:
        """The models this run trains, in order."""
        return INITS if self.train.compare else (self.model.init,)
