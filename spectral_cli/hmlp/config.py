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


class VectorDataConfig(Frozen):
    """Which data set, as float vectors.

    ``name``: ``mnist1d`` (embedded generator, 40 samples per signal), ``digits`` (the 8x8 UCI
    digits bundled with the project, 1,797 images, 64 inputs) or ``mnist`` (the user's IDX files
    in ``dir``, 784 inputs). ``path``: a user ``.npz`` (arrays ``x, y, x_test, y_test``) instead.
    Inputs are standardized with the mean and standard deviation (scalars) of the training split.
    ``limit`` keeps the first N training examples; the validation split is drawn with
    ``split_seed`` from what remains.
    """

    name: Literal["mnist1d", "digits", "mnist"] = "mnist1d"
    path: Path | None = None
    dir: Path | None = None
    limit: int | None = Field(default=None, ge=2)
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    split_seed: int = 0
    standardize: bool = True

    @model_validator(mode="after")
    def _source_is_unambiguous(self) -> VectorDataConfig:
        if self.name == "mnist" and self.dir is None and self.path is None:
            raise ValueError(
                "data.name=mnist reads the IDX files from a directory: pass --data-dir DIR "
                "(data.dir) holding train-images-idx3-ubyte[.gz] etc."
            )
        if self.dir is not None and self.name != "mnist":
            raise ValueError("data.dir (--data-dir) is only read with data.name=mnist")
        if self.path is not None and (self.name != "mnist1d" or self.dir is not None):
            raise ValueError("pass either data.path (an .npz) or data.name/data.dir, not both")
        return self


class VectorTrainConfig(TrainConfig):
    """The generic loop's knobs with the Harmonic MLP's defaults (Adam lr 1e-3, wd 1e-5, batch 128).

    ``compare``: also train the sibling family (``mlp`` for ``hmlp`` and vice versa) in the same run
    with the same seed, data and training settings.
    """

    epochs: int = Field(default=50, ge=1, le=MAX_COUNT)
    lr: float = Field(default=1e-3, gt=0.0)
    batch_size: int = Field(default=128, ge=1)
    weight_decay: float = Field(default=1e-5, ge=0.0)
    compare: bool = False
