"""Latent vectors from a file, for ``spectral harmony-score --vectors``.

``.json`` (a list of equal-length lists of numbers; a flat list is one vector), ``.npy`` or
``.safetensors`` (one tensor, or the tensor named ``latents``). Arrays with more than two
dimensions are flattened over their leading dimensions in C order. What is not a finite real
number, a ragged or empty input, deep JSON: :class:`~spectral_cli.core.errors.BadInput`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectral_cli.core.arrays import load_numpy, parse_json, shown
from spectral_cli.core.errors import BadInput

VECTOR_SUFFIXES = (".json", ".npy", ".safetensors")


def _json_vectors(path: Path) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not UTF-8 text") from None
    data = parse_json(text, str(path))
    if not isinstance(data, list) or not data:
        raise BadInput(f"{path} must hold a non-empty JSON list of equal-length lists of numbers")
    rows = data if all(isinstance(r, list) for r in data) else None
    if rows is None:
        if any(isinstance(r, list) for r in data):
            raise BadInput(f"{path} mixes lists and scalars; give a list of equal-length lists")
        rows = [data]
    length = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != length:
            raise BadInput(
                f"{path}: ragged input, vector {i} has length {len(row)}, vector 0 "
                f"has {length}; all vectors must have the same length"
            )
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise BadInput(f"{path}: vector {i} entry {j} is {v!r}, not a number")
    return _rows_as_floats(rows, path)


def _rows_as_floats(rows: list[list[Any]], path: Path) -> np.ndarray:
    try:
        return np.asarray(rows, dtype=np.float64)
    except OverflowError:
        raise BadInput(f"{path}: a number is beyond float64's range") from None


def _npy_vectors(path: Path) -> np.ndarray:
    loaded = load_numpy(path, shown(path))
    if not isinstance(loaded, np.ndarray):
        loaded.close()
        raise BadInput(f"{shown(path)} is an .npz archive; pass one .npy array of vectors")
    return loaded


def _safetensors_vectors(path: Path) -> np.ndarray:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            keys = list(fh.keys())
            if len(keys) == 1:
                key = keys[0]
            elif "latents" in keys:
                key = "latents"
            else:
                raise BadInput(
                    f"{path} holds {len(keys)} tensors ({', '.join(keys[:5])}); "
                    "it needs exactly one tensor or one named 'latents'"
                )
            tensor = fh.get_tensor(key)
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadInput(f"{path} is not a readable safetensors file ({exc})") from None
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise BadInput(f"{path}: tensor {key!r} has dtype {tensor.dtype}; give real numbers")
    return tensor.double().numpy()


def load_vectors(path: Path) -> np.ndarray:
    """(n, N) float64 array of finite values from a vectors file; anything else is BadInput."""
    if not path.is_file():
        raise BadInput(f"--vectors {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise BadInput(
            f"--vectors {path}: unsupported file type {suffix or '(none)'!r}; "
            f"use {', '.join(VECTOR_SUFFIXES)}"
        )
    loader = {".json": _json_vectors, ".npy": _npy_vectors, ".safetensors": _safetensors_vectors}
    arr = loader[suffix](path)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise BadInput(f"--vectors {path}: values have dtype {arr.dtype}; give real numbers")
    if arr.ndim == 0 or arr.size == 0:
        raise BadInput(
            f"--vectors {path} is empty (shape {arr.shape}); give at least one "
            "vector of length >= 1"
        )
    arr = arr.astype(np.float64).reshape(-1, arr.shape[-1]) if arr.ndim > 1 else arr[None, :]
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise BadInput(f"--vectors {path}: vector {bad} holds a non-finite value (nan/inf)")
    return arr
