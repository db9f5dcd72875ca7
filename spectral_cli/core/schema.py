"""Pydantic v2 schemas shared by every training family.

Every schema is frozen and forbids unknown keys, so a typo in ``--set`` or a YAML preset is an
error instead of a silently ignored value. Families add their own ``model.*`` schema through the
registry (:mod:`spectral_cli.core.registry`); :func:`run_config_class` glues it into a
family-specific :class:`RunConfig`.
"""

from __future__ import annotations

import typing
from functools import cache
from math import inf
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic_core import PydanticCustomError

from spectral_cli.core.limits import MAX_COUNT

#: error types of :class:`Frozen`'s own checks; their context names the key within the section
KEYED_ERRORS = ("finite_number", "int_range", "path_length")
#: the widest whole number a setting may hold (int64: what torch, numpy and JSON readers take)
MAX_INT = 2**63 - 1
#: the longest path a setting may name (Linux's PATH_MAX; a longer one cannot be opened)
MAX_PATH = 4096
#: strict mode's type errors -> what the key takes (our message names the value given)
STRICT_TYPES = {"int_type": "a number", "float_type": "a number", "bool_type": "true or false"}


def _numeric(annotation: Any) -> bool:
    """Whether a field annotation admits int/float but not bool or str."""
    args = typing.get_args(annotation) or (annotation,)
    if typing.get_origin(annotation) is typing.Annotated:
        return _numeric(args[0])
    kinds = {a for a in args if a is not type(None)}
    return bool(kinds) and kinds <= {int, float}


def _numeric_items(annotation: Any) -> bool:
    """``tuple[int, ...]``-like annotations (a sequence of numbers)."""
    origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        return all(_numeric(a) for a in typing.get_args(annotation) if a is not Ellipsis)
    return False


def _lax_container(annotation: Any) -> type | None:
    """``tuple`` or ``Path`` when the annotation is (optionally) one: YAML and ``--set`` give
    lists and strings, which strict mode would refuse for them."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _lax_container(args[0])
    if typing.get_origin(annotation) is tuple:
        return tuple
    if annotation is Path:
        return Path
    kinds = [a for a in args if a is not type(None)]
    return _lax_container(kinds[0]) if len(kinds) == 1 and args else None


class Frozen(BaseModel):
    """Base for every config section: immutable, unknown keys rejected, types strict.

    Validation runs in pydantic's strict mode: lax mode would read ``true`` as 1, the string
    ``"1"`` as a number and ``1``/``"off"`` as booleans; strict mode refuses them (exit 2 naming
    the key, in our words: :func:`spectral_cli.core.config.validation_message`). Only the two
    conversions a text config needs are made first: a list for a tuple, a string for a path.
    Every number is finite -- NaN is never a setting, and inf only in the keys a section names
    in ``infinite_values`` (single values) or ``infinite_items`` (list items) -- and every whole
    number fits int64 (a 400-digit ``epochs`` is refused here, not overflowed later). One rule
    for every section of every family, instead of ``allow_inf_nan=False`` per field (which
    strict mode does not apply).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    #: fields whose single value may be infinite (ntk's ``p = inf``: the toy encoding's limit)
    infinite_values: ClassVar[frozenset[str]] = frozenset()
    #: list fields whose items may be infinite (a sweep over ``p`` reaches ``inf``)
    infinite_items: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _text_forms_and_finite(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, field in cls.model_fields.items():
            if name not in data:
                continue
            value, ann = data[name], field.annotation
            kind = _lax_container(ann)
            if kind is tuple and isinstance(value, list):
                data[name] = value = tuple(value)
            elif kind is Path and isinstance(value, str):
                data[name] = value = Path(value)
            if isinstance(value, Path) and len(str(value)) > MAX_PATH:
                raise PydanticCustomError(
                    "path_length",
                    "takes a path of at most {limit} characters, not {length}",
                    {"key": name, "limit": MAX_PATH, "length": len(str(value))},
                )
            values = value if _numeric_items(ann) and isinstance(value, (list, tuple)) else None
            if values is None and not _numeric(ann):
                continue
            allowed = cls.infinite_items if values is not None else cls.infinite_values
            for v in values if values is not None else (value,):
                if isinstance(v, float) and (v != v or (abs(v) == inf and name not in allowed)):
                    raise PydanticCustomError(
                        "finite_number",
                        "takes finite numbers, not {value}",
                        {"key": name, "value": repr(v)},
                    )
                if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT:
                    raise PydanticCustomError(
                        "int_range",
                        "takes whole numbers up to 2^63 - 1, not one of {digits} digits",
                        {"key": name, "digits": len(str(abs(v)))},
                    )
        return data


class DataConfig(Frozen):
    """Where the signals come from and how they become tokens.

    ``limit`` keeps the first N training signals (before the validation split) for smoke runs.
    The validation split is drawn with ``split_seed`` (not the run seed) so runs with different
    seeds are evaluated on the same held-out signals.
    """

    name: Literal["mnist1d"] = "mnist1d"
    path: Path | None = None
    limit: int | None = Field(default=None, ge=2)
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    split_seed: int = Field(default=0, ge=0, lt=2**32)
    n_tokens: int = Field(default=256, ge=2, le=1_000_000)
    clamp: float = Field(default=5.0, gt=0.0, allow_inf_nan=False)


class TrainConfig(Frozen):
    """The generic training loop's knobs (Adam, cross-entropy)."""

    epochs: int = Field(default=40, ge=1, le=MAX_COUNT)
    lr: float = Field(default=1e-3, gt=0.0, allow_inf_nan=False)
    batch_size: int = Field(default=256, ge=1)
    weight_decay: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    grad_clip: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    amp: bool = False  # mixed precision on CUDA (ignored on CPU with a log line)
    amp_dtype: Literal["bfloat16", "float16"] = "bfloat16"  # float16 adds a GradScaler
    eval_batch_size: int = Field(default=1024, ge=1)


class RunConfig(Frozen):
    """A complete, resolved training run. ``model`` is replaced per family."""

    family: str
    seed: int = Field(default=0, ge=0, lt=2**32)
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    model: Frozen = Frozen()


@cache
def run_config_class(family: str, model_cls: type[Frozen]) -> type[RunConfig]:
    """The :class:`RunConfig` subclass whose ``model`` section is ``model_cls``."""
    name = "".join(part.capitalize() for part in family.replace("-", "_").split("_"))
    return create_model(f"{name}RunConfig", __base__=RunConfig, model=(model_cls, model_cls()))
