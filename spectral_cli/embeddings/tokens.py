"""Token classification data: source arrays -> limit -> seeded validation split -> tokens."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spectral_cli.core.datasets.splits import Split, limited_split, load_arrays
from spectral_cli.core.schema import DataConfig
from spectral_cli.embeddings.quantize import quantize


@dataclass(frozen=True)
class TokenDataInfo:
    """What the model needs to know about the data: vocabulary, sequence length, classes."""

    vocab_size: int
    seq_len: int
    num_classes: int


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

    @property
    def info(self) -> TokenDataInfo:
        return TokenDataInfo(self.vocab_size, self.seq_len, self.num_classes)

    def summary(self) -> dict[str, object]:
        return {
            "source": self.source,
            "n_train": len(self.train),
            "n_val": len(self.val),
            "n_test": len(self.test),
            "vocab_size": self.vocab_size,
            "seq_len": self.seq_len,
            "num_classes": self.num_classes,
        }


def load_token_data(cfg: DataConfig) -> TokenData:
    """Build the splits described by ``cfg`` (see :mod:`spectral_cli.embeddings.quantize`)."""
    arrays, source = load_arrays(cfg.path)
    x, y, train_idx, val_idx = limited_split(
        arrays["x"], arrays["y"], cfg.limit, cfg.val_fraction, cfg.split_seed
    )
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
