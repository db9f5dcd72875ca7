"""A user's own classification data as ``.npz``: arrays ``x``, ``y``, ``x_test``, ``y_test``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from spectral_cli.core.arrays import (
    NpzArrays,
    class_labels,
    file_kind,
    load_numpy,
    real_array,
    shown,
)
from spectral_cli.core.errors import BadInput

REQUIRED = ("x", "y", "x_test", "y_test")


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Load and validate: 2-D finite signals of one length, 1-D non-negative integer labels."""
    kind = file_kind(path)
    if kind is not None:
        raise BadInput(
            f"data.path {shown(path)} {kind}; pass an .npz with arrays {', '.join(REQUIRED)}"
        )
    try:
        loaded = load_numpy(path, f"data.path {shown(path)}")
        if not isinstance(loaded, NpzArrays):
            raise BadInput(
                f"data.path {path} is a single array, not an .npz with {', '.join(REQUIRED)}"
            )
        with loaded as npz:
            missing = [k for k in REQUIRED if k not in npz.files]
            if missing:
                raise BadInput(
                    f"data.path {path} lacks array(s) {', '.join(missing)}; "
                    f"it must hold {', '.join(REQUIRED)}"
                )
            arrays = {k: npz[k] for k in REQUIRED}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise BadInput(
            f"data.path {path} is not a readable .npz file ({type(exc).__name__})"
        ) from None
    for split in ("", "_test"):
        x, y = arrays[f"x{split}"], arrays[f"y{split}"]
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise BadInput(
                f"data.path {path}: x{split} must be a non-empty 2-D array, got {x.shape}"
            )
        arrays[f"x{split}"] = real_array(x, f"data.path {path}: x{split}")
        if y.shape != (x.shape[0],):
            raise BadInput(
                f"data.path {path}: y{split} must have shape ({x.shape[0]},), got {y.shape}"
            )
        arrays[f"y{split}"] = class_labels(y, f"data.path {path}: y{split}")
    if arrays["x"].shape[1] != arrays["x_test"].shape[1]:
        raise BadInput(f"data.path {path}: x and x_test have different signal lengths")
    return {
        "x": arrays["x"].astype(np.float32),
        "y": arrays["y"].astype(np.int64),
        "x_test": arrays["x_test"].astype(np.float32),
        "y_test": arrays["y_test"].astype(np.int64),
    }
