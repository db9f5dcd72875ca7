"""1-D signals for the spectra-LSTM: test signals, signal files, training sines.

* :func:`make_test_signal` -- ``random`` (N(0,1) noise) or ``sines`` (a fixed sum of sinusoids with
  components on and between DFT bins, amplitudes 1 .. 1e-3) for ``spectral verify-lstm``.
* :func:`read_signal_file` -- a user's 1-D signal from ``.npy``, ``.safetensors`` (one tensor, or
  the tensor named ``signal``) or ``.csv`` (one row or one column of numbers).  Anything else is
  :class:`~spectral_cli.core.errors.BadInput`; no pickle is ever loaded.
* :func:`sine_batch` -- the synthetic sinusoidal training signals of ``spectral train
  spectra-lstm``: ``n_sines`` components with random frequencies in ``[0, 1/2)`` cycles/sample,
  phases and amplitudes, normalised so that the per-sample RMS is ``1/sqrt(T)``; then the mean
  power per bin is about 1 and ``|x_t| <= sqrt(2 n_sines / T)`` (:func:`sine_bound`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from spectral_cli.core.arrays import load_numpy, shown
from spectral_cli.core.errors import BadInput

SIGNAL_KINDS = ("random", "sines")


def make_test_signal(kind: str, n: int, window: int, seed: int) -> torch.Tensor:
    """A float64 signal of ``n`` samples: ``random`` N(0,1) or a fixed ``sines`` mixture."""
    if kind == "random":
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, generator=g, dtype=torch.float64)
    if kind == "sines":
        t = torch.arange(n, dtype=torch.float64)
        T = window
        comps = ((1.0, 1.0, 0.3), (0.3, 2.5, 1.1), (1e-3, T / 2 - 0.25, 2.0), (0.5, 0.0, 0.0))
        return sum(a * torch.cos(2 * math.pi * f * t / T + p) for a, f, p in comps)  # type: ignore[return-value]
    raise BadInput(
        f"--signal {kind!r} is not random, sines or an existing .npy/.safetensors/.csv file"
    )


def read_signal_file(path: Path) -> np.ndarray:
    """Load a 1-D signal; shape/finiteness checks beyond "one row or column" are the core's."""
    if not path.is_file():
        raise BadInput(f"--signal {path}: no such file; pass random, sines or an existing file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            loaded = load_numpy(path, f"--signal {shown(path)}")
            if not isinstance(loaded, np.ndarray):
                loaded.close()
                raise BadInput(f"--signal {shown(path)} is an .npz archive; pass one .npy array")
            arr = loaded
        elif suffix == ".safetensors":
            arr = _read_safetensors(path)
        elif suffix == ".csv":
            arr = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
            if 1 in arr.shape:  # one row or one column -> 1-D
                arr = arr.reshape(-1)
        else:
            raise BadInput(
                f"--signal {path}: unsupported file type {suffix!r} "
                "(use .npy, .safetensors or .csv)"
            )
    except BadInput:
        raise
    except (OSError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"--signal {path} could not be read as {suffix} ({first})") from None
    return np.asarray(arr)


def _read_safetensors(path: Path) -> np.ndarray:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(path))
    except SafetensorError as exc:
        raise ValueError(str(exc)) from None
    if "signal" in tensors:
        return tensors["signal"]
    if len(tensors) != 1:
        raise BadInput(
            f"--signal {path} holds {len(tensors)} tensors; name the signal 'signal' "
            "or store exactly one tensor"
        )
    return next(iter(tensors.values()))


def sine_bound(n_sines: int, window: int) -> float:
    """Upper bound on ``|x_t|`` for :func:`sine_batch` (Cauchy-Schwarz on the amplitudes)."""
    return math.sqrt(2 * n_sines / window)


def sine_batch(count: int, length: int, window: int, n_sines: int, seed: int) -> torch.Tensor:
    """``[count, length]`` float64 sums of ``n_sines`` random sinusoids (see module docstring)."""
    g = torch.Generator().manual_seed(seed)
    shape = (count, n_sines, 1)
    freq = 0.5 * torch.rand(shape, generator=g, dtype=torch.float64)
    phase = 2 * math.pi * torch.rand(shape, generator=g, dtype=torch.float64)
    amp = 0.1 + torch.rand(shape, generator=g, dtype=torch.float64)
    amp = amp / torch.sqrt((amp**2).sum(dim=1, keepdim=True) / 2) / math.sqrt(window)
    t = torch.arange(length, dtype=torch.float64)
    return (amp * torch.sin(2 * math.pi * freq * t + phase)).sum(dim=1)
