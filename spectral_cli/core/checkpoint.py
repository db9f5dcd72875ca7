"""Safetensors checkpoints with spectral metadata (no pickle anywhere).

Metadata (string -> string): ``spectral.family``, ``spectral.config`` (resolved config as JSON),
``spectral.version``, ``spectral.schema`` plus any extra keys a family adds. Loading checks the
file is safetensors and of the expected family; anything else is :class:`BadInput` (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import Tensor

from spectral_cli.core.atomic import write_with
from spectral_cli.core.errors import BadInput
from spectral_cli.core.version import __version__

CHECKPOINT_SCHEMA = "1"


def save_tensors(path: Path, tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    """Atomically write ``tensors`` (moved to CPU, made contiguous) with ``metadata``."""
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    # serialized here and written through our own temporary name: safetensors' save_file makes
    # its own ``.tmpXXXXXX`` next to the target, which a kill -9 would leave behind
    data = save(flat, metadata=metadata)

    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    write_with(path, write)


def model_metadata(family: str, config: dict[str, Any], **extra: Any) -> dict[str, str]:
    """The standard metadata block; ``extra`` values are JSON-encoded unless already strings."""
    meta = {
        "spectral.family": family,
        "spectral.config": json.dumps(config, sort_keys=True),
        "spectral.version": __version__,
        "spectral.schema": CHECKPOINT_SCHEMA,
    }
    for key, value in extra.items():
        meta[f"spectral.{key}"] = value if isinstance(value, str) else json.dumps(value)
    return meta


def check_schema(meta: dict[str, str], path: Path | str) -> None:
    """A file written under another checkpoint schema (``spectral.schema``) is refused: its
    tensors and metadata may mean something this version does not know. Files without the key
    predate it and are read as schema 1."""
    found = meta.get("spectral.schema", CHECKPOINT_SCHEMA)
    if found != CHECKPOINT_SCHEMA:
        raise BadInput(
            f"{path} has checkpoint schema {found[:20]!r}; this version of spectral reads "
            f"schema {CHECKPOINT_SCHEMA} (use the spectral version that wrote it)"
        )


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata of a safetensors file; a missing or foreign file is bad input."""
    from safetensors import safe_open

    if not path.is_file():
        raise BadInput(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadInput(f"{path} is not a safetensors checkpoint ({exc})") from None


def load_checkpoint(
    path: Path, family: str | None = None
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Tensors and metadata; refuses files without spectral metadata or of another family."""
    meta = read_metadata(path)
    found = meta.get("spectral.family")
    if found is None:
        raise BadInput(f"{path} has no spectral.family metadata; it was not written by spectral")
    if family is not None and found != family:
        raise BadInput(f"{path} is a {found!r} checkpoint, expected {family!r}")
    check_schema(meta, path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadInput(f"{path} could not be read as safetensors ({exc})") from None
    return tensors, meta


def flatten_state(obj: Any, prefix: str, tensors: dict[str, Tensor]) -> Any:
    """Split a nested state (e.g. an optimizer ``state_dict``) into tensors and a JSON skeleton.

    Tensors are stored under dotted keys in ``tensors`` and replaced by ``{"__tensor__": key}``.
    """
    if isinstance(obj, Tensor):
        tensors[prefix] = obj
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {
            "__dict__": [[k, flatten_state(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]
        }
    if isinstance(obj, (list, tuple)):
        return [flatten_state(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    return obj


def unflatten_state(obj: Any, tensors: dict[str, Tensor]) -> Any:
    """Inverse of :func:`flatten_state` (dict keys keep their original int/str types)."""
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: unflatten_state(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    return obj


def rng_tensor(state: Tensor) -> Tensor:
    """An RNG state (uint8 tensor) in a form safetensors stores."""
    return state.to(torch.uint8).clone()


def check_state_dict(expected: dict[str, Tensor], found: dict[str, Tensor], path: Path) -> None:
    """``found`` must have exactly ``expected``'s tensor names, shapes and dtypes.

    ``load_state_dict`` would silently cast (int64 weights into a float model) and report a
    missing key only after a partial copy; a file that does not match is bad input instead.
    """
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"has the unexpected tensor {extra[0]!r}"
        raise BadInput(f"{path} {what}; it was not written for this model")
    for name, ref in expected.items():
        got = found[name]
        if got.dtype != ref.dtype or tuple(got.shape) != tuple(ref.shape):
            raise BadInput(
                f"{path}: tensor {name!r} is {str(got.dtype).removeprefix('torch.')} "
                f"{list(got.shape)}, expected {str(ref.dtype).removeprefix('torch.')} "
                f"{list(ref.shape)}"
            )
