"""Splits shared by every system: source arrays (MNIST-1D or a user ``.npz``) and the seeded
validation split that keeps runs with different seeds on the same held-out signals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import Tensor

from spectral_cli.core.datasets.mnist1d import load_mnist1d
from spectral_cli.core.datasets.npz import load_npz
from spectral_cli.core.errors import BadInput


@dataclass(frozen=True)
class Split:
    """Inputs ``x`` (n, ...) and targets ``y`` (n, ...)."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


def load_arrays(path: Path | None) -> tuple[dict[str, np.ndarray], str]:
    """The raw arrays (``x``, ``y``, ``x_test``, ``y_test``) and where they came from."""
    if path is not None:
        return load_npz(path), str(path)
    return load_mnist1d(), "mnist1d (generated offline, default arguments)"


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded permutation; the first round(n * val_fraction) (at least 1) indices are validation."""
    n_val = max(1, int(round(n * val_fraction)))
    if n - n_val < 1:
        raise BadInput(f"only {n} training signals: too few to hold out a validation split")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def limited_split(
    x: np.ndarray, y: np.ndarray, limit: int | None, val_fraction: float, split_seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first ``limit`` training examples (all if None) and their seeded train/validation
    indices: ``(x, y, train_idx, val_idx)`` (``data.limit``, ``data.val_fraction``,
    ``data.split_seed`` of every family)."""
    if limit is not None:
        x, y = x[:limit], y[:limit]
    train_idx, val_idx = split_indices(len(y), val_fraction, split_seed)
    return x, y, train_idx, val_idx
