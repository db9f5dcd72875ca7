"""Signals for the harmonic autoencoder and the "invalid" inputs it must push to dissonance.

Valid inputs are MNIST-1D signals (or ``data.path`` .npz signals), used as raw floats (MNIST-1D
is already about zero-mean, unit-variance; no rescaling, so sums of signals stay sums). Invalid
inputs are generated from valid ones in three documented ways (:data:`INVALID_KINDS`):

- ``noise``: Gaussian noise with each signal's own mean and standard deviation (over time);
- ``shuffle``: the signal's samples in a random temporal order (same values, no structure);
- ``mixture``: the average 0.5 * (x_a + x_b) of two signals of *different* classes (the partner
  is drawn at random among the other-class signals of the batch; any other signal if there is
  none).

Training draws one kind per sample (uniformly) from torch's global RNG, which the training state
saves, so an interrupted run resumes exactly. Evaluation uses fixed sets from a seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from spectral_cli.core.datasets.splits import Split, limited_split, load_arrays
from spectral_cli.core.schema import DataConfig

INVALID_KINDS: tuple[str, ...] = ("noise", "shuffle", "mixture")


SignalSplit = Split  # float signals (n, L) and integer labels (n,)


@dataclass(frozen=True)
class SignalData:
    train: SignalSplit
    val: SignalSplit
    test: SignalSplit
    signal_length: int
    source: str


def load_signal_data(cfg: DataConfig) -> SignalData:
    """Train/validation (seeded by ``split_seed``) and test splits of raw float signals."""
    arrays, source = load_arrays(cfg.path)
    x, y, tr, va = limited_split(
        arrays["x"], arrays["y"], cfg.limit, cfg.val_fraction, cfg.split_seed
    )

    def split(xs: np.ndarray, ys: np.ndarray) -> SignalSplit:
        return SignalSplit(
            torch.from_numpy(np.ascontiguousarray(xs, dtype=np.float32)),
            torch.from_numpy(np.asarray(ys, dtype=np.int64)),
        )

    return SignalData(
        split(x[tr], y[tr]),
        split(x[va], y[va]),
        split(arrays["x_test"], arrays["y_test"]),
        int(x.shape[1]),
        source,
    )


def gaussian_noise(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Noise with each row's mean and standard deviation."""
    mean, std = x.mean(-1, keepdim=True), x.std(-1, keepdim=True, correction=0)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    return mean + std * noise


def time_shuffle(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Each row's samples in an independent random order."""
    keys = torch.rand(x.shape, generator=generator, device="cpu").to(x.device)
    return x.gather(-1, keys.argsort(-1))


def class_mixture(x: Tensor, y: Tensor | None, generator: torch.Generator | None = None) -> Tensor:
    """0.5 * (x_i + x_j), j a random other-class row (any other row if none; itself if n = 1)."""
    n = x.shape[0]
    keys = torch.rand((n, n), generator=generator, device="cpu").to(x.device)
    if n > 1:
        keys = keys.masked_fill(torch.eye(n, dtype=torch.bool, device=x.device), -2.0)
    if y is not None:
        same = (y[:, None] == y[None, :]) & (keys > -2.0)
        keys = torch.where(same, keys - 1.0, keys)  # other-class partners rank first
    return 0.5 * (x + x[keys.argmax(-1)])


def make_invalid(
    x: Tensor, y: Tensor | None, kind: str, generator: torch.Generator | None = None
) -> Tensor:
    """One invalid input of ``kind`` per row of ``x``."""
    if kind == "noise":
        return gaussian_noise(x, generator)
    if kind == "shuffle":
        return time_shuffle(x, generator)
    if kind == "mixture":
        return class_mixture(x, y, generator)
    raise ValueError(f"unknown invalid kind {kind!r}; choose one of {', '.join(INVALID_KINDS)}")


def random_invalid(x: Tensor, y: Tensor | None, generator: torch.Generator | None = None) -> Tensor:
    """One invalid input per row, its kind drawn uniformly per row."""
    options = torch.stack([make_invalid(x, y, k, generator) for k in INVALID_KINDS])
    pick = torch.randint(len(INVALID_KINDS), (x.shape[0],), generator=generator).to(x.device)
    return options[pick, torch.arange(x.shape[0], device=x.device)]


def invalid_sets(x: Tensor, y: Tensor | None, seed: int) -> dict[str, Tensor]:
    """Fixed evaluation sets: every kind applied to every row, from a generator seeded ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return {kind: make_invalid(x, y, kind, gen) for kind in INVALID_KINDS}
