"""Reader for the IDX format of LeCun's MNIST files (plain or gzip), and the directory loader of
the data sets stored that way (MNIST, Fashion-MNIST, KMNIST).

IDX layout: two zero bytes, a type byte (0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), a byte with the number of dimensions, then one big-endian uint32 per
dimension, then the values, big-endian, row-major. Everything is validated: the magic number,
the dimensions, and that the data is exactly as long as they say (a truncated file, trailing bytes,
or a foreign file are :class:`~spectral_cli.core.errors.BadInput` naming the file). gzip is
detected by its magic bytes, not by the file name. Nothing is ever downloaded: the user brings
the files, as they have them: in one folder, either spelling (``train-images-idx3-ubyte`` or
``train-images.idx3-ubyte``), gzip-compressed or not, or as torchvision keeps them
(``ROOT/MNIST/raw/``, ``ROOT/FashionMNIST/raw/``, ``ROOT/KMNIST/raw/``).
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from spectral_cli.core.errors import BadInput

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801
MNIST_FILES = {
    "x": "train-images-idx3-ubyte",
    "y": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _read_bytes(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of ``path``, gunzipped when it starts with the gzip magic."""
    try:
        with path.open("rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        if not gz:
            with path.open("rb") as fh:
                return fh.read(limit)
        with gzip.open(path, "rb") as fh:
            return fh.read(limit)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise BadInput(f"IDX file {path} could not be read ({type(exc).__name__}: {exc})") from None


MAX_IDX_BYTES = 2**34  # 16 GiB


def read_idx(path: Path, expect_magic: int | None = None) -> np.ndarray:
    """The array stored in IDX file ``path`` (native byte order); bad files are BadInput."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"IDX file {path} does not exist")
    head = _read_bytes(path, 4)
    if len(head) < 4 or head[0:2] != b"\x00\x00" or head[2] not in IDX_TYPES or head[3] == 0:
        raise BadInput(f"{path} is not an IDX file (bad magic number {head.hex() or 'none'})")
    magic = struct.unpack(">I", head)[0]
    if expect_magic is not None and magic != expect_magic:
        raise BadInput(
            f"{path}: IDX magic number 0x{magic:08x}, expected 0x{expect_magic:08x} "
            f"({'images' if expect_magic == IMAGES_MAGIC else 'labels'}); wrong file?"
        )
    dtype, ndim = IDX_TYPES[head[2]], head[3]
    header = _read_bytes(path, 4 + 4 * ndim)
    if len(header) < 4 + 4 * ndim:
        raise BadInput(f"{path}: truncated IDX header ({ndim} dimensions announced)")
    dims = struct.unpack(f">{ndim}I", header[4:])
    if 0 in dims:
        raise BadInput(f"{path}: IDX dimensions {dims} contain a zero")
    n_bytes = math.prod(dims) * dtype.itemsize  # exact: np.prod would wrap around in int64
    offset = 4 + 4 * ndim
    if n_bytes > MAX_IDX_BYTES:
        raise BadInput(
            f"{path}: IDX dimensions {dims} describe {n_bytes:,} bytes; more than "
            f"{MAX_IDX_BYTES:,} is not a data set this tool reads"
        )
    raw = _read_bytes(path, offset + n_bytes + 1)  # one more byte reveals trailing data
    have = len(raw) - offset
    if have < n_bytes:
        raise BadInput(
            f"{path}: truncated IDX file: dimensions {dims} need {n_bytes} data bytes, found {have}"
        )
    if have > n_bytes:
        raise BadInput(
            f"{path}: IDX file is longer than its dimensions {dims} say (trailing bytes)"
        )
    data = np.frombuffer(raw, dtype=dtype, count=n_bytes // dtype.itemsize, offset=offset)
    return data.reshape(dims).astype(dtype.newbyteorder("="))


IDX_DATASETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
"""The data sets stored as the four MNIST-style IDX files, by ``data.name``, with the folder
torchvision gives each under its root (``ROOT/MNIST/raw/``, ``ROOT/FashionMNIST/raw/``, ...)."""


def spellings(stem: str) -> tuple[str, ...]:
    """The names one IDX file goes by: ``train-images-idx3-ubyte`` (LeCun's), with ``.gz``, and
    ``train-images.idx3-ubyte`` (a common re-distribution), with ``.gz``."""
    dotted = stem.replace("-idx", ".idx")
    return (stem, f"{stem}.gz", dotted, f"{dotted}.gz")


def find_idx(directory: Path, stem: str) -> Path | None:
    """The file ``stem`` in ``directory`` under any of its :func:`spellings`, or ``None``."""
    for name in spellings(stem):
        if (directory / name).is_file():
            return directory / name
    return None


def locate_idx_dir(directory: Path, name: str = "mnist") -> Path:
    """The folder holding data set ``name``'s four IDX files: ``directory`` itself, torchvision's
    ``directory/<Folder>/raw/`` (``MNIST``, ``FashionMNIST``, ``KMNIST``) or ``directory/raw/``
    (``directory`` is torchvision's ``<Folder>``). Nothing complete: BadInput naming the files
    missing where most of them are, and the torchvision folders of other data sets found."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BadInput(f"--data-dir {directory} is not a directory")
    folder = IDX_DATASETS[name]
    candidates = [directory, directory / folder / "raw", directory / "raw"]
    found = {
        c: [stem for stem in MNIST_FILES.values() if find_idx(c, stem)]
        for c in candidates
        if c.is_dir()
    }
    for candidate, stems in found.items():
        if len(stems) == len(MNIST_FILES):
            return candidate
    where = max(found, key=lambda c: len(found[c]))  # insertion order breaks ties: directory
    missing = [f"{stem}[.gz]" for stem in MNIST_FILES.values() if stem not in found[where]]
    message = (
        f"--data-dir {directory}: no complete {name} IDX set (looked in it, in {folder}/raw/ "
        f"and raw/ under it); {where} lacks {', '.join(missing)}"
    )
    others = [
        other
        for other, sub in IDX_DATASETS.items()
        if other != name and (directory / sub / "raw").is_dir()
    ]
    if others:
        message += f"; it has torchvision's folder of data.name={' / '.join(others)}"
    raise BadInput(message)


def load_idx_dir(directory: Path, name: str = "mnist") -> tuple[dict[str, np.ndarray], Path]:
    """``x, y, x_test, y_test`` of data set ``name`` (``mnist``, ``fashion-mnist``, ``kmnist``:
    one format) found by :func:`locate_idx_dir`, and the folder they came from.

    Images: ubyte IDX with 3 dimensions (n, rows, cols), flattened to ``rows * cols`` floats;
    labels: ubyte IDX with 1 dimension matching n. Train and test images must have one shape.
    """
    folder = locate_idx_dir(directory, name)
    out: dict[str, np.ndarray] = {}
    for split in ("", "_test"):
        x_path, y_path = (
            find_idx(folder, MNIST_FILES[f"x{split}"]),
            find_idx(folder, MNIST_FILES[f"y{split}"]),
        )
        assert x_path is not None and y_path is not None  # located above
        x, y = read_idx(x_path, IMAGES_MAGIC), read_idx(y_path, LABELS_MAGIC)
        if len(y) != len(x):
            raise BadInput(f"{y_path} holds {len(y)} labels but {x_path} holds {len(x)} images")
        out[f"x{split}"] = x.reshape(len(x), -1).astype(np.float32)
        out[f"y{split}"] = y.astype(np.int64)
    if out["x"].shape[1] != out["x_test"].shape[1]:
        raise BadInput(f"--data-dir {folder}: train and test images have different sizes")
    return out, folder


def load_mnist_dir(directory: Path) -> dict[str, np.ndarray]:
    """MNIST's four arrays from ``directory`` (see :func:`load_idx_dir`)."""
    return load_idx_dir(directory, "mnist")[0]


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """Write ``array`` as IDX (the inverse of :func:`read_idx`; used by tests and tools)."""
    codes = {v.newbyteorder("="): k for k, v in IDX_TYPES.items()}
    dtype = np.dtype(array.dtype).newbyteorder("=")
    if dtype not in codes:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    code = codes[dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
