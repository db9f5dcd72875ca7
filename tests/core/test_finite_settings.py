"""Every numeric setting of every family is finite and fits int64 (one rule in core.schema.Frozen):
inf, NaN and 400-digit integers are exit 2 before anything is created."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from helpers import assert_one_line_error, invoke
from pydantic import BaseModel

from spectral_cli.core.config import validate
from spectral_cli.core.errors import BadInput
from spectral_cli.core.registry import family_names, get_family
from spectral_cli.core.schema import Frozen


def numeric_keys(cls: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Dotted keys of every single int/float setting of a schema (sections walked)."""
    keys = []
    for name, field in cls.model_fields.items():
        ann = field.annotation
        args = {a for a in typing.get_args(ann) if a is not type(None)} or {ann}
        sub = next((a for a in args if isinstance(a, type) and issubclass(a, Frozen)), None)
        if sub is not None:
            keys += numeric_keys(sub, (*prefix, name))
        elif args <= {int, float} and args:
            keys.append((*prefix, name))
    return keys


def nested(key: tuple[str, ...], value: object) -> dict:
    out: dict = {"family": None}
    cur = out
    for part in key[:-1]:
        cur = cur.setdefault(part, {})
    cur[key[-1]] = value
    return out


def allowed_inf(cls: type[BaseModel], key: tuple[str, ...]) -> bool:
    for part in key[:-1]:
        ann = cls.model_fields[part].annotation
        cls = next(a for a in (*typing.get_args(ann), ann) if isinstance(a, type))
    return key[-1] in getattr(cls, "infinite_values", frozenset())


@pytest.mark.parametrize("family", family_names())
def test_every_numeric_setting_refuses_inf_nan_and_huge_integers(family: str) -> None:
    cls = get_family(family).config
    keys = numeric_keys(cls)
    assert ("train", "lr") in keys  # the walk reaches the sections
    for key in keys:
        dotted = ".".join(key)
        values: list[object] = [float("nan"), 10**400]
        if not allowed_inf(cls, key):
            values += [float("inf"), float("-inf")]
        for value in values:
            data = nested(key, value)
            data["family"] = family
            with pytest.raises(BadInput, match=f"'{dotted}'"):
                validate(cls, data, "--set")


@pytest.mark.parametrize("family", family_names())
@pytest.mark.parametrize(
    "setting", ["train.lr=.inf", "train.weight_decay=.inf", "seed=1" + "0" * 400]
)
def test_non_finite_setting_is_exit_2_with_nothing_created(
    runner, tmp_path: Path, family: str, setting: str
) -> None:
    """The issue's cases: ``train mlp --set train.lr=.inf`` made the run directory and ended
    with exit 3 "loss became nan"; spectra-lstm printed a raw ValidationError (exit 3)."""
    out = tmp_path / "run"
    result = invoke(runner, "train", family, "--set", setting, "--out", out)
    assert_one_line_error(result, 2)
    assert setting.split("=")[0] in result.stderr
    assert not out.exists()
