"""Token classification data: source arrays -> limit -> seeded validation split -> tokens."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from spectral_cli.config.schema import DataConfig
from spectral_cli.data.mnist1d import load_mnist1d
from spectral_cli.data.npz import load_npz
from spectral_cli.data.quantize import quantize
from spectral_cli.errors import BadInput


@dataclass(frozen=True)
class Split:
    """Integer tokens (n, L) and labels (n,)."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class TokenData:
    """Train/validation/test splits plus what the model needs to know."""

    train: Split
    val: Split
    test: Split
    vocab_size: int
    seq_len: int
    num_classes: int
    source: str


def load_arrays(cfg: DataConfig) -> tuple[dict[str, np.ndarray], str]:
    """The raw arrays and a description of where they came from."""
    if cfg.path is not None:
        return load_npz(cfg.path), str(cfg.path)
    return load_mnist1d(), "mnist1d (generated offline, default arguments)"


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded permutation; the first round(n * val_fraction) (at least 1) indices are validation."""
    n_val = max(1, int(round(n * val_fraction)))
    if n - n_val < 1:
        raise BadInput(f"only {n} training signals: too few to hold out a validation split")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def load_token_data(cfg: DataConfig) -> TokenData:
    """Build the splits described by ``cfg`` (see :mod:`spectral_cli.data.quantize`)."""
    arrays, source = load_arrays(cfg)
    x, y = arrays["x"], arrays["y"]
    if cfg.limit is not None:
        x, y = x[: cfg.limit], y[: cfg.limit]
    train_idx, val_idx = split_indices(len(y), cfg.val_fraction, cfg.split_seed)
    num_classes = int(max(arrays["y"].max(), arrays["y_test"].max())) + 1

    def make(xs: np.ndarray, ys: np.ndarray) -> Split:
        tokens = quantize(xs, cfg.n_tokens, cfg.clamp)
        return Split(torch.from_numpy(tokens), torch.from_numpy(ys.astype(np.int64)))

    return TokenData(
        train=make(x[train_idx], y[train_idx]),
        val=make(x[val_idx], y[val_idx]),
        test=make(arrays["x_test"], arrays["y_test"]),
        vocab_size=cfg.n_tokens,
        seq_len=int(x.shape[1]),
        num_classes=num_classes,
        source=source,
    )
