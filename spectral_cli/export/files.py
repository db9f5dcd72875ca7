"""``spectral predict``'s files: the user's input array (``.npy``/``.npz``) and the predictions
(``.npz`` arrays or a ``.csv`` table). No pickle: object arrays are refused."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from spectral_cli.core.arrays import file_kind, load_numpy, shown
from spectral_cli.core.atomic import atomic_path
from spectral_cli.core.errors import BadInput
from spectral_cli.core.runs import check_out_file

INPUT_KEYS = ("x",)
LABEL_KEY = "y"


def read_input(path: Path, names: tuple[str, ...]) -> tuple[str, np.ndarray, np.ndarray | None]:
    """(array name, inputs, labels or ``None``) of ``path``; an ``.npz`` holds the inputs as
    ``x`` (or one of ``names``) and optional labels as ``y``."""
    kind = file_kind(path)
    if kind is not None:
        raise BadInput(f"--input {shown(path)} {kind}")
    if path.suffix not in (".npy", ".npz"):
        raise BadInput(
            f"--input {shown(path)}: pass an .npy array or an .npz with arrays x (and y)"
        )
    try:
        loaded = load_numpy(path, f"--input {shown(path)}")
        if isinstance(loaded, np.ndarray):
            return "x", loaded, None
        with loaded as npz:
            keys = [k for k in (*INPUT_KEYS, *names) if k in npz.files]
            if not keys:
                raise BadInput(
                    f"--input {path} holds {', '.join(npz.files) or 'no arrays'}; "
                    f"the inputs must be named {' or '.join((*INPUT_KEYS, *names))}"
                )
            labels = npz[LABEL_KEY] if LABEL_KEY in npz.files else None
            return keys[0], npz[keys[0]], labels
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BadInput(
            f"--input {path} is not a readable .npy/.npz file ({type(exc).__name__}: {exc})"
        ) from None


def default_out(input_path: Path) -> Path:
    return input_path.with_name(f"{input_path.stem}-predictions.npz")


def check_out(out: Path, overwrite: bool) -> None:
    if out.suffix not in (".npz", ".csv"):
        raise BadInput(f"--out {out}: predictions are written as .npz or .csv")
    if out.is_dir():
        raise BadInput(f"--out {out} is a directory; pass the file to write")
    if out.exists() and not overwrite:
        raise BadInput(f"--out {out} exists; pass --overwrite to replace it")
    check_out_file(out)


def _columns(arrays: dict[str, np.ndarray]) -> tuple[list[str], list[np.ndarray], list[str]]:
    names, cols, fmts = [], [], []
    for name, a in arrays.items():
        flat = a.reshape(len(a), -1)
        if a.ndim == 1:
            labels = [name]
        else:
            idx = np.stack(np.unravel_index(np.arange(flat.shape[1]), a.shape[1:]), axis=-1)
            labels = [f"{name}_" + "_".join(str(i) for i in row) for row in idx]
        names += labels
        cols.append(flat)
        fmts += ["%d" if np.issubdtype(a.dtype, np.integer) else "%.9g"] * len(labels)
    return names, cols, fmts


def write_predictions(out: Path, arrays: dict[str, np.ndarray]) -> None:
    """``.npz`` (one array per output) or ``.csv`` (one row per input, outputs flattened)."""
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        if out.suffix == ".npz":
            np.savez(fh, allow_pickle=False, **arrays)
            return
        names, cols, fmts = _columns(arrays)
        table = np.concatenate([c.astype(np.float64) for c in cols], axis=1)
        np.savetxt(fh, table, fmt=fmts, delimiter=",", header=",".join(names), comments="")
