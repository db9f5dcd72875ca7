"""``harmony-score --checkpoint``'s valid signals: the MNIST-1D test split, or a user's file
(``.npz`` with ``x_test``/``x`` and optional labels, or a 2-D ``.npy``), read by header first
(:func:`spectral_cli.core.arrays.load_numpy`) and checked against the model's input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from spectral_cli.core.arrays import class_labels, file_kind, load_numpy, real_array, shown
from spectral_cli.core.errors import BadInput


def load_signals(data: str, length: int) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """Valid signals: ``mnist1d`` (its test split) or FILE (.npz with x_test or x, optional
    y_test / y; or a 2-D .npy); their length must match the model's input."""
    if data == "mnist1d":
        from spectral_cli.core.datasets.mnist1d import load_mnist1d

        arrays = load_mnist1d()
        x, y, source = arrays["x_test"], arrays["y_test"], "mnist1d test split"
    else:
        path, y = Path(data), None
        kind = file_kind(path)
        if kind is not None:
            raise BadInput(f"--data {shown(path)} {kind}; pass mnist1d or an .npz/.npy file")
        loaded = load_numpy(path, f"--data {shown(path)}")
        if isinstance(loaded, np.ndarray):
            x = loaded
        else:
            with loaded:
                key = "x_test" if "x_test" in loaded.files else "x"
                if key not in loaded.files:
                    raise BadInput(f"--data {path} holds no array x_test or x")
                x = loaded[key]
                ykey = "y_test" if key == "x_test" else "y"
                y = loaded[ykey] if ykey in loaded.files else None
        source = str(path)
    if x.ndim != 2 or x.shape[0] < 2:
        raise BadInput(
            f"--data {source}: signals must be a numeric 2-D array with >= 2 rows, "
            f"got shape {x.shape}"
        )
    x = real_array(x, f"--data {source}: signals")
    if x.shape[1] != length:
        raise BadInput(
            f"--data {source}: signals have length {x.shape[1]}, the model expects {length}"
        )
    if not np.isfinite(x).all():
        raise BadInput(f"--data {source}: signals hold non-finite values")
    biggest = float(np.abs(x).max())
    if biggest > float(np.finfo(np.float32).max):  # the model computes in float32
        raise BadInput(
            f"--data {source}: signals reach {biggest:.3g}, beyond float32's range "
            f"({float(np.finfo(np.float32).max):.3g}); rescale them"
        )
    labels = None
    if y is not None and y.shape == (x.shape[0],):
        labels = torch.from_numpy(class_labels(y, f"--data {source}: labels"))
    return torch.from_numpy(x.astype(np.float32)), labels, source
