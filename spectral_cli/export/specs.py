"""A family's export signature made concrete for one checkpoint: shapes, dtypes, test inputs.

A :class:`~spectral_cli.core.registry.TensorSpec` names its axes symbolically (``"seq_len"``,
``"data.windows*model.window"``); :func:`resolve` looks the names up in the checkpoint's data
info, then in its config, and gives a :class:`Tensor` with numbers (``None`` = the batch axis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import TensorSpec

DTYPES = {
    "int64": torch.int64,
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def lookup(name: str, info: dict[str, Any], cfg: Any) -> Any:
    """``name`` in the data info, else as a dotted key of the config."""
    if name in info:
        return info[name]
    obj = cfg
    for part in name.split("."):
        if not hasattr(obj, part):
            raise BadInput(
                f"the checkpoint's data info and config have no {name!r}; "
                "it was not written by this version of spectral"
            )
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Tensor:
    """A named tensor of fixed dtype and shape; ``None`` in ``shape`` is the batch axis."""

    name: str
    dtype: torch.dtype
    shape: tuple[int | None, ...]
    high: int | None = None
    bound: float | None = None

    def describe(self) -> str:
        """``int64 [batch, 40]``."""
        dims = ", ".join("batch" if d is None else str(d) for d in self.shape)
        return f"{dtype_name(self.dtype)} [{dims}]"

    def public(self) -> dict[str, Any]:
        """JSON form (reports and ONNX metadata)."""
        return {
            "name": self.name,
            "dtype": dtype_name(self.dtype),
            "shape": ["batch" if d is None else d for d in self.shape],
        }

    def fits(self, shape: tuple[int, ...]) -> bool:
        return len(shape) == len(self.shape) and all(
            want is None or want == got for want, got in zip(self.shape, shape, strict=True)
        )


def resolve(spec: TensorSpec, info: dict[str, Any], cfg: Any, model_dtype: torch.dtype) -> Tensor:
    """``spec`` with its names looked up (``dtype="model"``: ``model_dtype``)."""

    def number(name: str | None) -> float | None:
        if name is None:
            return None
        return math.prod(float(lookup(part, info, cfg)) for part in name.split("*"))

    shape = tuple(
        None if axis == "batch" else int(axis) if isinstance(axis, int) else int(number(axis) or 0)
        for axis in spec.shape
    )
    dtype = model_dtype if spec.dtype == "model" else DTYPES[spec.dtype]
    high = number(spec.high)
    return Tensor(spec.name, dtype, shape, None if high is None else int(high), number(spec.bound))


def random_input(spec: Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
    """A batch of random inputs of ``spec``: integers in ``[0, high)``, floats uniform in
    ``[-bound, bound]`` or standard normal."""
    shape = tuple(batch if d is None else d for d in spec.shape)
    if not spec.dtype.is_floating_point:
        return torch.randint(0, spec.high or 2, shape, generator=generator, dtype=spec.dtype)
    if spec.bound is not None:
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        return ((2 * u - 1) * spec.bound).to(spec.dtype)
    return torch.randn(shape, generator=generator, dtype=torch.float64).to(spec.dtype)
