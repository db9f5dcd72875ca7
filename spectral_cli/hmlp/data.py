"""Float input vectors for the MLP families: mnist1d, digits, MNIST / Fashion-MNIST / KMNIST, .npz.

Source arrays -> first ``limit`` training examples -> seeded validation split (``split_seed``) ->
standardization ``(x - mu) / sigma`` with the scalar mean and standard deviation of the training
split (for MNIST this is the usual 0.1307 / 0.3081 of the pixel range, up to the held-out part).
Images are flattened; the input size is whatever the data set has (40, 64 or 784).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spectral_cli.core.datasets.splits import Split, limited_split
from spectral_cli.hmlp.config import IDX_NAMES, VectorDataConfig


@dataclass(frozen=True)
class VectorDataInfo:
    """What a vector model needs to know: input size and number of classes; and how raw
    inputs became model inputs, ``(x - mean) / std`` (0 and 1 without ``data.standardize``),
    so that ``spectral predict`` prepares a user's raw features exactly as training did."""

    n_features: int
    num_classes: int
    mean: float = 0.0
    std: float = 1.0


@dataclass(frozen=True)
class VectorData:
    """Train/validation/test splits of float vectors (``seq_len`` = input size, no vocabulary)."""

    train: Split
    val: Split
    test: Split
    seq_len: int
    num_classes: int
    source: str
    vocab_size: None = None
    mean: float = 0.0
    std: float = 1.0

    @property
    def info(self) -> VectorDataInfo:
        return VectorDataInfo(self.seq_len, self.num_classes, self.mean, self.std)

    def summary(self) -> dict[str, object]:
        return {
            "source": self.source,
            "n_train": len(self.train),
            "n_val": len(self.val),
            "n_test": len(self.test),
            "input_size": self.seq_len,
            "num_classes": self.num_classes,
        }


def standardize(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Flattened float32 ``(x - mean) / std`` (computed in float64), training's formula."""
    x = np.asarray(x).reshape(len(x), -1)
    return ((x.astype(np.float64) - mean) / std).astype(np.float32)


def load_vector_arrays(cfg: VectorDataConfig) -> tuple[dict[str, np.ndarray], str]:
    """Raw ``x, y, x_test, y_test`` arrays and a description of where they came from."""
    if cfg.path is not None:
        from spectral_cli.core.datasets.npz import load_npz

        return load_npz(cfg.path), str(cfg.path)
    if cfg.name == "digits":
        from spectral_cli.hmlp.digits import load_digits

        return load_digits(), "digits (UCI 8x8, bundled copy of scikit-learn's digits.csv.gz)"
    if cfg.name in IDX_NAMES:
        from spectral_cli.hmlp.idx import load_idx_dir

        assert cfg.dir is not None  # the schema requires it
        arrays, folder = load_idx_dir(cfg.dir, cfg.name)
        return arrays, f"{cfg.name} (IDX files in {folder})"
    from spectral_cli.core.datasets.mnist1d import load_mnist1d

    return load_mnist1d(), "mnist1d (generated offline, default arguments)"


def load_vector_data(cfg: VectorDataConfig) -> VectorData:
    """The splits described by ``cfg`` as float32 tensors."""
    arrays, source = load_vector_arrays(cfg)
    x = arrays["x"].reshape(len(arrays["x"]), -1)
    y = arrays["y"]
    x_test = arrays["x_test"].reshape(len(arrays["x_test"]), -1)
    x, y, train_idx, val_idx = limited_split(x, y, cfg.limit, cfg.val_fraction, cfg.split_seed)
    mu, sigma = 0.0, 1.0
    if cfg.standardize:
        xt = x[train_idx].astype(np.float64)
        mu, sigma = float(xt.mean()), float(xt.std()) or 1.0
    num_classes = int(max(arrays["y"].max(), arrays["y_test"].max())) + 1

    def make(xs: np.ndarray, ys: np.ndarray) -> Split:
        xs = standardize(xs, mu, sigma)
        return Split(torch.from_numpy(xs), torch.from_numpy(ys.astype(np.int64)))

    return VectorData(
        train=make(x[train_idx], y[train_idx]),
        val=make(x[val_idx], y[val_idx]),
        test=make(x_test, arrays["y_test"]),
        seq_len=int(x.shape[1]),
        num_classes=num_classes,
        source=source,
        mean=mu,
        std=sigma,
    )
