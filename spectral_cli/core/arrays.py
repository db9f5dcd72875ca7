"""Validation of user-supplied arrays and JSON: what is not a finite real number is bad input.

Every loader of user data goes through these checks before a tensor is built, so a complex
array, a label of 10**9 (a 256 GB one-hot head), a 400-digit integer or 100,000 nested lists end
as one ``error:`` line with exit 2, never as a crash or an allocation failure.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from spectral_cli.core.errors import BadInput

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
