"""Config sections of the families that consume real-valued inputs (float vectors, not tokens).

These are separate from the token families' :class:`~spectral_cli.core.schema.DataConfig` on
purpose: ``data.name=digits`` or ``data.dir`` are meaningless for a token classifier, so its schema
keeps rejecting them (exit 2), while ``hmlp``/``mlp`` accept them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from spectral_cli.core.limits import MAX_COUNT
from spectral_cli.core.schema import Frozen, TrainConfig

IDX_NAMES = ("mnist", "fashion-mnist", "kmnist")  # read from IDX files in data.dir


class VectorDataConfig(Frozen):
    """Which data set, as float vectors.

    ``name``: ``mnist1d`` (embedded generator, 40 samples per signal), ``digits`` (the 8x8 UCI
    digits bundled with the project, 1,797 images, 64 inputs), or ``mnist``, ``fashion-mnist``,
    ``kmnist`` (the user's four IDX files in ``dir``, or under torchvision's ``dir/MNIST/raw/``
    etc.; 784 inputs). ``path``: a user ``.npz`` (arrays ``x, y, x_test, y_test``) instead.
    Inputs are standardized with the mean and standard deviation (scalars) of the training split.
    ``limit`` keeps the first N training examples; the validation split is drawn with
    ``split_seed`` from what remains.
    """

    name: Literal["mnist1d", "digits", "mnist", "fashion-mnist", "kmnist"] = "mnist1d"
    path: Path | None = None
    dir: Path | None = None
    limit: int | None = Field(default=None, ge=2)
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    split_seed: int = 0
    standardize: bool = True

    @model_validator(mode="after")
    def _source_is_unambiguous(self) -> VectorDataConfig:
        idx = self.name in IDX_NAMES
        if idx and self.dir is None and self.path is None:
            raise ValueError(
                f"data.name={self.name} reads the IDX files from a directory: pass --data-dir "
                "DIR (data.dir) holding train-images-idx3-ubyte[.gz] etc. (or torchvision's "
                "root)"
            )
        if self.dir is not None and not idx:
            raise ValueError(
                f"data.dir (--data-dir) is only read with data.name={' | '.join(IDX_NAMES)}"
            )
        if self.path is not None and (self.name != "mnist1d" or self.dir is not None):
            raise ValueError("pass either data.path (an .npz) or data.name/data.dir, not both")
        return self


class VectorTrainConfig(TrainConfig):
    """The generic loop's knobs with the Harmonic MLP's defaults (Adam lr 1e-3, wd 1e-5, batch 128).

    ``compare``: also train the sibling family (``mlp`` for ``hmlp`` and vice versa) in the same run
    with the same seed, data and training settings.

    ``scheduler``: ``constant`` keeps ``lr``; ``plateau`` is the public implementation's
    ReduceLROnPlateau (:mod:`spectral_cli.hmlp.schedule`): the rate is multiplied by
    ``plateau_factor`` after more than ``plateau_patience`` epochs without a (relative 1e-4)
    improvement of ``plateau_metric`` -- ``loss``, the epoch's training loss, as that code did, or
    ``val_loss``.
    """

    epochs: int = Field(default=50, ge=1, le=MAX_COUNT)
    lr: float = Field(default=1e-3, gt=0.0)
    batch_size: int = Field(default=128, ge=1)
    weight_decay: float = Field(default=1e-5, ge=0.0)
    compare: bool = False
    scheduler: Literal["constant", "plateau"] = "constant"
    plateau_patience: int = Field(default=2, ge=0)
    plateau_factor: float = Field(default=0.1, gt=0.0, lt=1.0)
    plateau_metric: Literal["loss", "val_loss"] = "loss"
