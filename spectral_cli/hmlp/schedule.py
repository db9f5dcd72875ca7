"""``train.scheduler=plateau``: the public harmonic-MLP implementation's learning-rate schedule.

That code steps ``torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min", patience=2)``
once per epoch on the epoch's mean training loss, for 15 epochs. :func:`plateau_lr` computes the
same learning rate as a pure function of the losses recorded so far, so the trainer can set it at
every epoch start and a resumed run gets exactly the rate an uninterrupted one had (no scheduler
state to save). The rule is PyTorch's (mode ``min``, relative threshold, no cooldown,
``min_lr`` 0): a value improves on the best so far when it is below ``best * (1 - threshold)``;
after more than ``patience`` epochs without improvement the rate is multiplied by ``factor`` (a
change smaller than ``eps`` is skipped) and the count restarts. A test checks it against
PyTorch's class on many sequences.

One difference from the public code: its "training loss" averaged the batch losses with equal
weight, ours (the history's ``loss``) weights each batch by its size; they differ only through
the last, smaller batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

THRESHOLD = 1e-4  # PyTorch's defaults
EPS = 1e-8


def plateau_lr(
    values: Sequence[float],
    lr: float,
    patience: int = 2,
    factor: float = 0.1,
    threshold: float = THRESHOLD,
    eps: float = EPS,
) -> float:
    """The learning rate after ReduceLROnPlateau(mode="min") has seen ``values``, from ``lr``."""
    best, bad = math.inf, 0
    for value in values:
        if value < best * (1.0 - threshold):
            best, bad = value, 0
        else:
            bad += 1
        if bad > patience:
            new = lr * factor
            if lr - new > eps:
                lr = new
            bad = 0
    return lr


def plateau_schedule(
    lr: float, metric: str, patience: int, factor: float
) -> Callable[[list[dict[str, float]]], float]:
    """``history -> learning rate`` for :attr:`~spectral_cli.core.registry.Task.lr_at`."""

    def lr_at(history: list[dict[str, float]]) -> float:
        return plateau_lr([h[metric] for h in history], lr, patience, factor)

    return lr_at
