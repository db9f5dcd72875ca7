"""What one ``spectral tune`` invocation was asked to do, and the choices its options take.

A leaf of the tuning package (stdlib only at import): the trials, the final runs, the worker
processes and the command line all read it, and it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any


class SamplerKind(str, Enum):
    """``--sampler``: Optuna's TPE (seeded) or plain random search."""

    TPE = "tpe"
    RANDOM = "random"


class PrunerKind(str, Enum):
    """``--pruner``: the median rule over earlier trials' epochs, or never prune."""

    MEDIAN = "median"
    NONE = "none"


@dataclass(frozen=True)
class TuneSettings:
    """Everything a worker process needs (picklable: only plain values)."""

    families: tuple[str, ...]
    out: Path
    storage: str
    study_name: str = "spectral"
    trials: int = 8
    timeout: float | None = None
    seed: int = 0
    sampler: str = SamplerKind.TPE.value
    pruner: str = PrunerKind.MEDIAN.value
    space_file: Path | None = None
    config_file: Path | None = None
    sets: tuple[str, ...] = ()
    final_seeds: int = 5
    workers: int = 1
    device: str = "auto"
    quiet: bool = False
    loggers: tuple[str, ...] = ()  # also log every trial and final run there (tensorboard)


def trial_config(settings: TuneSettings, family: str, params: dict[str, Any], seed: int) -> Any:
    """The family's config for ``params``: its preset, ``--config``, every ``--set``, then the
    sampled values, with the run's ``seed``."""
    from spectral_cli.core.resolve import resolve_train_config
    from spectral_cli.tuning.space import as_sets

    sets = [*family_sets(settings, family), *as_sets(params)]
    return resolve_train_config(family, settings.config_file, sets, seed=seed)


#: what a resumed study restores from ``OUT/tune-settings.json`` (flag -> settings field)
REMEMBERED: dict[str, str] = {
    "--set": "sets",
    "--config": "config_file",
    "--space": "space_file",
    "--sampler": "sampler",
    "--pruner": "pruner",
    "--final-seeds": "final_seeds",
    "--study-name": "study_name",
    "--seed": "seed",
    "--timeout": "timeout",
    "--storage": "storage",
}
SETTINGS_FILE = "tune-settings.json"
DEFAULTS = TuneSettings(families=(), out=Path("."), storage="")


def family_sets(settings: TuneSettings, family: str) -> list[str]:
    """The ``--set`` items for ``family``: ``FAMILY:key=value`` items of this family (prefix
    dropped) and bare items whose key the family's config has."""
    from spectral_cli.core.config import parse_set
    from spectral_cli.core.registry import get_family

    schema = get_family(family).config
    out = []
    for item in settings.sets:
        owner, sep, rest = item.partition(":")
        if sep and "=" not in owner:  # FAMILY:key=value
            if owner == family:
                out.append(rest)
        elif has_key(schema, parse_set([item])[0][0]):
            out.append(item)
    return out


def has_key(schema: Any, parts: list[str]) -> bool:
    """Whether the dotted key ``parts`` names a field of the pydantic ``schema``."""
    for i, part in enumerate(parts):
        fields = getattr(schema, "model_fields", None)
        if fields is None or part not in fields:
            return False
        annotation = fields[part].annotation
        if i + 1 < len(parts):
            schema = annotation
    return True


def check_sets(settings: TuneSettings) -> None:
    """A ``FAMILY:`` prefix names a family being tuned; a bare key exists in at least one."""
    from spectral_cli.core.config import parse_set
    from spectral_cli.core.errors import BadInput
    from spectral_cli.core.registry import get_family

    for item in settings.sets:
        owner, sep, rest = item.partition(":")
        if sep and "=" not in owner:
            if owner not in settings.families:
                raise BadInput(
                    f"--set {item}: {owner!r} is not among the tuned families "
                    f"({', '.join(settings.families)})"
                )
            continue
        key = parse_set([item])[0][0]
        if not any(has_key(get_family(f).config, key) for f in settings.families):
            raise BadInput(
                f"--set {item}: no tuned family has the key {'.'.join(key)} "
                f"({', '.join(settings.families)}); prefix it with the family (FAMILY:key=value)"
            )


def remembered(settings: TuneSettings) -> dict[str, Any]:
    """The JSON of what a resume restores (the storage URL without its password)."""
    from spectral_cli.core.credentials import mask_credentials

    out: dict[str, Any] = {}
    for field_name in REMEMBERED.values():
        value = getattr(settings, field_name)
        if field_name == "storage":
            value = mask_credentials(value)
        out[field_name] = (
            str(value)
            if isinstance(value, Path)
            else list(value)
            if isinstance(value, tuple)
            else value
        )
    return out


def restore(settings: TuneSettings, saved: dict[str, Any], given: set[str]) -> TuneSettings:
    """``settings`` with every remembered field the user did not give taken from ``saved``; a
    flag given again with another value than the study started with is bad input."""
    from dataclasses import replace

    from spectral_cli.core.errors import BadInput

    now = remembered(settings)
    changes: dict[str, Any] = {}
    for flag, field_name in REMEMBERED.items():
        if field_name not in saved:
            continue
        if flag in given:
            if now[field_name] != saved[field_name]:
                raise BadInput(
                    f"--resume: {flag} was {saved[field_name]!r} when this study started, not "
                    f"{now[field_name]!r}; drop {flag} (the saved value is used) or start a new "
                    "study"
                )
            continue
        value = saved[field_name]
        if field_name == "storage" and "***" in str(value):
            raise BadInput(
                "--resume: this study's storage has a password, which is not stored; pass "
                "--storage URL again"
            )
        if field_name in ("config_file", "space_file") and value is not None:
            value = Path(value)
        elif field_name == "sets":
            value = tuple(value)
        changes[field_name] = value
    return replace(settings, **changes)
