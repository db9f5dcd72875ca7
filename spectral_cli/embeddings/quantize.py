"""Quantization of real-valued signals into integer tokens.

Values are clamped to [-c, c] (default c = 5, i.e. 5 standard deviations of the standardized
MNIST-1D signals) and mapped to ``n`` uniform bins of width 2c/n: token = floor((x + c) * n / 2c),
with x = c mapped to the last bin n-1. So token 0 covers [-c, -c + 2c/n) and token n-1 covers
[c - 2c/n, c].
"""

from __future__ import annotations

import numpy as np


def quantize(x: np.ndarray, n_tokens: int = 256, clamp: float = 5.0) -> np.ndarray:
    """Map real values to int64 tokens in [0, n_tokens) with uniform bins over [-clamp, clamp]."""
    if n_tokens < 2 or clamp <= 0:
        raise ValueError("n_tokens must be >= 2 and clamp > 0")
    scaled = (np.clip(np.asarray(x, dtype=np.float64), -clamp, clamp) + clamp) * (
        n_tokens / (2 * clamp)
    )
    return np.minimum(np.floor(scaled), n_tokens - 1).astype(np.int64)


def bin_centers(n_tokens: int = 256, clamp: float = 5.0) -> np.ndarray:
    """The real value at the centre of each token's bin (for plots and de-quantization)."""
    width = 2 * clamp / n_tokens
    return -clamp + width * (np.arange(n_tokens) + 0.5)
