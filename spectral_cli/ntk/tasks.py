"""Regression tasks of ``spectral ntk``: the original document's 1-D toy and user ``.npz`` files.

**toy1d** (source document 004 / Tancik et al.'s ``1d_regression`` notebook): a grid of ``N =
n_train * stride`` points ``x = k / N`` in [0, 1) (256 for the defaults); every ``stride``-th point
is a training point (32), the remaining ``N - n_train`` (224) are test points. A target is
``s(x) = Re sum_f A_f c_f exp(2 pi i f x)`` with ``c_f ~ N(0, 1) + i N(0, 1)`` and amplitude
``A_f = (1 + f)^(-slope / 2)`` for ``0 <= f < N / 4``, zero above (the notebook's
``sample_random_powerlaw`` with ``power = slope / 2`` and its cut-off), min-max scaled to
[-0.5, 0.5] as in the notebook. ``slope`` is the exponent of the *power* spectrum; the default 2
is the notebook's amplitude-1/f signal. Signal ``i`` of a run with seed ``s`` is drawn from
``torch.Generator().manual_seed(s + i)``, so signal 0 of every slope uses the same phases.

**FILE** (``--task path.npz``, no pickle): arrays ``x_train`` [n] or [n, d] and ``y_train`` [n]
or [n, k] (k target signals), optionally ``x_test`` [n', d] and ``y_test`` [n', k] (both or
neither). All values finite, n >= 2, same d and k in both splits. ``--n-train`` / ``--n-test``
keep the first rows of a file (and may not ask for more rows than it has).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from spectral_cli.core.arrays import NpzArrays, load_numpy, shown
from spectral_cli.core.errors import BadInput

F64 = torch.float64


@dataclass(frozen=True)
class RegressionTask:
    """Inputs ``x_*`` [n, d] and targets ``y_*`` [n, k] (k signals), float64 on CPU."""

    source: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor | None
    y_test: Tensor | None
    x_grid: Tensor | None = None  # toy1d: the whole grid [N, 1] and the signals on it [N, k]
    y_grid: Tensor | None = None

    @property
    def in_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_signals(self) -> int:
        return int(self.y_train.shape[1])

    @property
    def n_grid(self) -> int | None:
        """Points of the task's grid (toy1d: ``n_train * stride``), None for a task file.

        The toy encoding's default basis is ``j = 1 .. n_grid / 2`` (the original document's full
        basis).
        """
        return None if self.x_grid is None else int(self.x_grid.shape[0])


def powerlaw_signal(n_grid: int, slope: float, seed: int) -> Tensor:
    """One toy1d target on the ``n_grid``-point grid (module docstring), float64 [n_grid]."""
    g = torch.Generator().manual_seed(int(seed))
    raw = torch.randn(n_grid, 2, generator=g, dtype=F64)
    f = torch.arange(n_grid, dtype=F64)
    amp = (1.0 + f).pow(-slope / 2.0) * (f < n_grid // 4)
    coef = torch.complex(raw[:, 0] * amp, raw[:, 1] * amp)
    s = torch.fft.ifft(coef).real
    span = float(s.max() - s.min())
    return (s - s.min()) / (span if span > 0 else 1.0) - 0.5


def toy1d(
    n_train: int, n_test: int | None, stride: int, slope: float, signals: int, seed: int
) -> RegressionTask:
    """The original document's 1-D experiment (module docstring)."""
    n_grid = n_train * stride
    x = torch.arange(n_grid, dtype=F64)[:, None] / n_grid
    y = torch.stack([powerlaw_signal(n_grid, slope, seed + i) for i in range(signals)], dim=1)
    train = torch.arange(0, n_grid, stride)
    test = torch.tensor([i for i in range(n_grid) if i % stride], dtype=torch.long)
    if n_test is not None:
        if n_test > test.numel():
            raise BadInput(
                f"--n-test {n_test} exceeds the {test.numel()} test points of toy1d "
                f"with --n-train {n_train} (grid {n_grid}, stride {stride})"
            )
        test = test[torch.linspace(0, test.numel() - 1, n_test).round().long()]
    return RegressionTask(
        source=f"toy1d(slope={slope:g})",
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        x_grid=x,
        y_grid=y,
    )


def _array(npz: NpzArrays, key: str, path: Path) -> np.ndarray:
    arr = npz[key]
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise BadInput(f"--task {path}: {key} must hold numbers, not {arr.dtype}")
    if np.iscomplexobj(arr):
        raise BadInput(f"--task {path}: {key} must be real")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise BadInput(f"--task {path}: {key} has non-finite values (NaN or inf)")
    return arr


def _split(x: np.ndarray, y: np.ndarray, name: str, path: Path) -> tuple[Tensor, Tensor]:
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise BadInput(
            f"--task {path}: x_{name} must be [n] or [n, d] with n, d >= 1, got shape {x.shape}"
        )
    if y.ndim != 2 or y.shape[0] != x.shape[0] or y.shape[1] == 0:
        raise BadInput(
            f"--task {path}: y_{name} must be [{x.shape[0]}] or [{x.shape[0]}, k] "
            f"to match x_{name}, got shape {y.shape}"
        )
    return torch.from_numpy(x), torch.from_numpy(y)


def load_task_file(path: Path, n_train: int | None, n_test: int | None) -> RegressionTask:
    """Read and validate an ``.npz`` task (module docstring)."""
    if not path.is_file():
        raise BadInput(f"--task {path}: no such file; pass toy1d or an .npz with x_train, y_train")
    try:
        loaded = load_numpy(path, f"--task {shown(path)}")
        if not isinstance(loaded, NpzArrays):
            raise BadInput(f"--task {shown(path)} is one array; pass an .npz with x_train, y_train")
        with loaded as npz:
            keys = set(npz.files)
            missing = [k for k in ("x_train", "y_train") if k not in keys]
            if missing:
                raise BadInput(
                    f"--task {path} lacks {', '.join(missing)}; it must hold x_train, "
                    "y_train (and optionally x_test, y_test)"
                )
            if ("x_test" in keys) != ("y_test" in keys):
                raise BadInput(f"--task {path}: give both x_test and y_test, or neither")
            arrays = {
                k: _array(npz, k, path)
                for k in ("x_train", "y_train", "x_test", "y_test")
                if k in keys
            }
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        kind = type(exc).__name__
        raise BadInput(f"--task {path} is not a readable .npz file ({kind})") from None
    x_tr, y_tr = _split(arrays["x_train"], arrays["y_train"], "train", path)
    x_te = y_te = None
    if "x_test" in arrays:
        x_te, y_te = _split(arrays["x_test"], arrays["y_test"], "test", path)
        if x_te.shape[1] != x_tr.shape[1] or y_te.shape[1] != y_tr.shape[1]:
            raise BadInput(
                f"--task {path}: test arrays have {x_te.shape[1]} input / "
                f"{y_te.shape[1]} target columns, train {x_tr.shape[1]} / "
                f"{y_tr.shape[1]}"
            )
    for name, limit, x in (("train", n_train, x_tr), ("test", n_test, x_te)):
        if limit is not None and (x is None or limit > x.shape[0]):
            have = 0 if x is None else x.shape[0]
            raise BadInput(f"--n-{name} {limit} exceeds the {have} {name} rows of {path}")
    if n_train is not None:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    if n_test is not None and x_te is not None and y_te is not None:
        x_te, y_te = x_te[:n_test], y_te[:n_test]
    if x_tr.shape[0] < 2:
        raise BadInput(f"--task {path}: need at least 2 training points, got {x_tr.shape[0]}")
    return RegressionTask(source=str(path), x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)


TOY_N_TRAIN = 32


def load_task(
    name: str,
    *,
    n_train: int | None,
    n_test: int | None,
    stride: int,
    slope: float,
    signals: int,
    seed: int,
) -> RegressionTask:
    """``toy1d`` (``n_train`` default 32) or a file path (``None``: all rows)."""
    if name == "toy1d":
        if not math.isfinite(slope):
            raise BadInput("the target slope must be finite")
        return toy1d(n_train or TOY_N_TRAIN, n_test, stride, slope, signals, seed)
    return load_task_file(Path(name), n_train, n_test)
