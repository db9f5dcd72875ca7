"""Validation of user-supplied arrays and JSON: what is not a finite real number is bad input.

Every loader of user data goes through these checks before a tensor is built, so a complex
array, a label of 10**9 (a 256 GB one-hot head), a 400-digit integer or 100,000 nested lists end
as one ``error:`` line with exit 2, never as a crash or an allocation failure.
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from spectral_cli.core.errors import BadInput
from spectral_cli.core.limits import check_elements

MAX_CLASSES = 100_000  # a classifier head of more classes is a data error, not a model
MAX_JSON_DEPTH = 64


def real_array(arr: Any, what: str) -> np.ndarray:
    """``arr`` as float64 if it holds finite real numbers; complex, boolean, object, string or
    non-finite data is refused (complex values are never silently truncated to their real part).
    """
    a = np.asarray(arr) if not isinstance(arr, np.ndarray) else arr
    if np.iscomplexobj(a):
        raise BadInput(f"{what} holds complex numbers; pass real values (e.g. abs or .real)")
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number):
        raise BadInput(f"{what} must hold real numbers, not {a.dtype}")
    try:
        out = a.astype(np.float64)
    except (OverflowError, ValueError) as exc:
        raise BadInput(f"{what} holds numbers that are not representable ({exc})") from None
    if not np.isfinite(out).all():
        raise BadInput(f"{what} holds non-finite values (inf or nan, or integers beyond float64)")
    return out


def class_labels(y: np.ndarray, what: str, max_classes: int = MAX_CLASSES) -> np.ndarray:
    """Integer labels ``0 <= y < max_classes`` as int64 (checked before any cast can wrap)."""
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise BadInput(f"{what} must hold integer class labels, not {y.dtype}")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= max_classes):
        raise BadInput(
            f"{what} holds labels from {int(y.min())} to {int(y.max())}; class labels must be "
            f"0 .. {max_classes - 1} (renumber the classes)"
        )
    return y.astype(np.int64)


def file_kind(path: Path) -> str | None:
    """``None`` for a regular file (after symlinks), else what ``path`` is, for a message:
    "does not exist", "is a directory", "is a FIFO", ... (a FIFO is never opened: it blocks)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"is {kind}, not a regular file"


def shown(path: Path | str, limit: int = 200) -> str:
    """``path`` for a message: at most ``limit`` characters (a 100 KB path is not echoed)."""
    text = str(path)
    return text if len(text) <= limit else f"{text[: limit - 30]}...({len(text):,} characters)"


NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"


def read_npy(fh: IO[bytes], what: str) -> np.ndarray:
    """One ``.npy`` array from ``fh``; its header (numpy.lib.format) is read and the shape
    checked against the size rule before the data are, so a header that claims 10^12 numbers
    or an ``.npz`` member that inflates to gigabytes is refused without allocating them."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = reader(fh)
    except (ValueError, OSError, EOFError) as exc:
        raise BadInput(f"{what} is not a .npy array ({str(exc)[:120]})") from None
    if dtype.hasobject:
        raise BadInput(f"{what} holds Python objects; save it with a numeric dtype")
    count = math.prod(shape)
    check_elements(count, what, "pass a smaller array")
    arr = np.empty(count, dtype=dtype)
    view, done = arr.data.cast("B"), 0
    try:
        while done < len(view):
            got = fh.readinto(view[done:])  # type: ignore[attr-defined]
            if not got:
                raise BadInput(
                    f"{what} is truncated ({done:,} of {len(view):,} data bytes); "
                    "write the file again"
                )
            done += got
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise BadInput(f"{what} cannot be read ({str(exc)[:120]})") from None
    return arr.reshape(shape, order="F" if fortran else "C")


class NpzArrays:
    """The arrays of an ``.npz``, read one by one on access through :func:`read_npy` (header
    checked first); all arrays read from one file together obey the size rule too. Used like
    numpy's ``NpzFile``: ``files``, ``key in``, ``[key]``, ``with``."""

    def __init__(self, zf: zipfile.ZipFile, what: str) -> None:
        self.zip, self.what, self.total = zf, what, 0
        self._names = {n.removesuffix(".npy"): n for n in zf.namelist()}
        self.files = list(self._names)

    def __contains__(self, key: object) -> bool:
        return key in self._names

    def __getitem__(self, key: str) -> np.ndarray:
        where = f"{self.what}: array {key!r}"
        try:
            with self.zip.open(self._names[key]) as fh:
                arr = read_npy(fh, where)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise BadInput(f"{where} cannot be read ({str(exc)[:120]})") from None
        self.total += arr.size
        check_elements(self.total, self.what, "pass a smaller file")
        return arr

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> NpzArrays:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_numpy(path: Path, what: str) -> np.ndarray | NpzArrays:
    """``np.load(path, allow_pickle=False)`` for untrusted files: an ``.npy`` array or the
    :class:`NpzArrays` of an ``.npz`` (told apart by content); anything else, a FIFO, a member
    that is not ``.npy``, or a shape beyond the size rule is bad input before any allocation."""
    kind = file_kind(path)
    if kind is not None:
        raise BadInput(f"{what} {kind}")
    try:
        fh = open(path, "rb")  # noqa: SIM115 - an .npz keeps it open (closed by NpzArrays)
    except OSError as exc:
        raise BadInput(f"{what} cannot be read ({exc.strerror})") from None
    head = fh.read(len(NPY_MAGIC))
    fh.seek(0)
    if head.startswith(NPY_MAGIC):
        with fh:
            return read_npy(fh, what)
    if head.startswith(ZIP_MAGIC):
        fh.close()
        try:
            return NpzArrays(zipfile.ZipFile(path), what)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise BadInput(f"{what} is not a readable .npz file ({str(exc)[:120]})") from None
    fh.close()
    raise BadInput(f"{what} is not a readable .npz/.npy file (neither an archive nor an array)")


def parse_json(text: str, what: str) -> Any:
    """``json.loads`` that refuses deep nesting and numbers beyond float64 as bad input.

    The standard parser recurses once per nesting level, so input nested deeper than Python's
    recursion limit ends in a RecursionError, caught here; what parses is then walked
    iteratively and refused if any list or object lies deeper than ``MAX_JSON_DEPTH``.
    """
    too_deep = f"{what} nests deeper than {MAX_JSON_DEPTH} levels"
    try:
        data = json.loads(text, parse_int=_bounded_int)
    except RecursionError:
        raise BadInput(too_deep) from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise BadInput(f"{what} is not valid JSON ({exc})") from None
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise BadInput(too_deep)
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether a list or dict of ``data`` lies deeper than ``limit`` (the outermost is 1)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _bounded_int(text: str) -> int | float:
    if len(text.lstrip("-")) > 300:  # beyond float64's range either way
        raise ValueError(f"integer with {len(text)} digits is out of range")
    return int(text)
