"""MNIST-1D (Greydanus 2020) generated offline with the ``mnist1d`` package.

We call ``mnist1d.data.make_dataset(get_dataset_args())`` (the package's own generator with its
default arguments: 5000 signals of length 40, 4000 train / 1000 test, generator seed 42) and never
its download path. Generation takes a few seconds, so the arrays are cached in memory and on disk
(``$SPECTRAL_CACHE_DIR``, default ``~/.cache/spectral``); a cache file that cannot be read
(truncated, not a zip, missing arrays) or fails validation is regenerated and replaced
atomically (written to a temporary file in the same directory, then renamed over it).
``make_dataset`` reseeds numpy's and Python's global RNGs; we restore both afterwards so loading
data never changes a run's randomness.
"""

from __future__ import annotations

import os
import random
import tempfile
import zipfile
from contextlib import suppress
from functools import cache
from pathlib import Path

import numpy as np

from spectral_cli.core import places
from spectral_cli.core.arrays import load_numpy
from spectral_cli.core.errors import BadInput

CACHE_VERSION = "v1"
EXPECTED_SHAPES = {"x": (4000, 40), "y": (4000,), "x_test": (1000, 40), "y_test": (1000,)}


def cache_dir() -> Path:
    """Where the generated arrays are cached (:func:`spectral_cli.core.places.cache_dir`)."""
    return places.cache_dir()


N_CLASSES = 10  # the digits 0-9


def _valid(arrays: dict[str, np.ndarray]) -> bool:
    """Shapes, finite real signals, and integer labels of the data set's classes (a cache whose
    label 99,999 built a 100,000-class head is regenerated, not trained on)."""
    if not all(k in arrays and arrays[k].shape == s for k, s in EXPECTED_SHAPES.items()):
        return False
    for split in ("", "_test"):
        x, y = arrays[f"x{split}"], arrays[f"y{split}"]
        if x.dtype.kind != "f" or not np.isfinite(x).all():
            return False
        if y.dtype.kind not in "iu" or int(y.min()) < 0 or int(y.max()) >= N_CLASSES:
            return False
    return True


def generate() -> dict[str, np.ndarray]:
    """Run the mnist1d generator (no network), leaving global RNG states untouched."""
    from mnist1d.data import get_dataset_args, make_dataset

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x": np.asarray(raw["x"], dtype=np.float32),
        "y": np.asarray(raw["y"], dtype=np.int64),
        "x_test": np.asarray(raw["x_test"], dtype=np.float32),
        "y_test": np.asarray(raw["y_test"], dtype=np.int64),
    }


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the file is missing, unreadable or invalid."""
    if not path.is_file():
        return None
    try:
        loaded = load_numpy(path, f"MNIST-1D cache {path}")  # headers checked before reading
        if isinstance(loaded, np.ndarray):
            return None
        with loaded as npz:
            arrays = {k: npz[k] for k in EXPECTED_SHAPES}
    # a truncated or overwritten file: empty (EOFError), not a zip or a bad member (BadZipFile),
    # a bad .npy header (ValueError), a missing array (KeyError), unreadable (OSError)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, BadInput):
        return None
    return arrays if _valid(arrays) else None


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Replace ``path`` atomically; best effort (a read-only home just means no cache)."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(  # by name: numpy's stubs type **arrays as savez's keyword options
                fh, x=arrays["x"], y=arrays["y"], x_test=arrays["x_test"], y_test=arrays["y_test"]
            )
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)


@cache
def load_mnist1d() -> dict[str, np.ndarray]:
    """The default MNIST-1D arrays ``x, y, x_test, y_test`` (float32 signals, int64 labels)."""
    path = cache_dir() / f"mnist1d-default-{CACHE_VERSION}.npz"
    arrays = _read_cache(path)
    if arrays is None:
        arrays = generate()
        _write_cache(path, arrays)
    return arrays
