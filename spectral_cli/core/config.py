"""Resolve a run config: schema defaults, then the family preset, then ``--config``, then ``--set``.

Every failure is a :class:`~spectral_cli.core.errors.BadInput` with a one-line message that names
the offending key or file and says how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from spectral_cli.core.errors import BadInput


def presets_dir() -> Path:
    """The directory of YAML presets: packaged copy in a wheel, ``configs/`` in a checkout."""
    packaged = Path(__file__).resolve().parents[1] / "configs"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "configs"


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing, unreadable or non-mapping file is bad input."""
    if not path.is_file():
        raise BadInput(f"config file {path} does not exist; pass an existing YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"config file {path} cannot be read ({exc.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"config file {path} is not valid YAML ({first})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(
            f"config file {path} must hold a mapping of sections, not {type(data).__name__}"
        )
    return data


def parse_set(items: Iterable[str]) -> list[tuple[list[str], Any]]:
    """Parse ``key.sub=value`` items; values are YAML scalars (``1e-3``, ``true``, ``null``)."""
    parsed = []
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInput(
                f"--set {item!r} is not of the form key=value (e.g. --set train.lr=0.003)"
            )
        parts = key.split(".")
        if any(not p for p in parts):
            raise BadInput(
                f"--set key {key!r} has an empty component; use dotted keys like model.k"
            )
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parsed.append((parts, value))
    return parsed


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base``."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def apply_sets(data: dict[str, Any], sets: list[tuple[list[str], Any]]) -> dict[str, Any]:
    """Apply parsed ``--set`` overrides to a nested dict (creating sections as needed)."""
    out = json.loads(json.dumps(data, default=str))
    for parts, value in sets:
        cur = out
        for i, part in enumerate(parts[:-1]):
            nxt = cur.get(part)
            if nxt is None:
                nxt = cur[part] = {}
            if not isinstance(nxt, dict):
                where = ".".join(parts[: i + 1])
                raise BadInput(f"--set {'.'.join(parts)}: {where} is a value, not a section")
            cur = nxt
        cur[parts[-1]] = value
    return out


def validation_message(exc: ValidationError, source: str) -> str:
    """One line describing the first validation error of ``exc``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return (
            f"unknown config key '{loc}' in {source}; see the preset under configs/ for valid keys"
        )
    got = err.get("input")
    got_txt = "" if isinstance(got, dict) else f" (got {got!r})"
    return f"invalid config value for '{loc}' in {source}: {err['msg']}{got_txt}"


def validate(cls: type[BaseModel], data: Mapping[str, Any], source: str) -> Any:
    """Validate ``data`` against ``cls`` or raise :class:`BadInput` with a one-line message."""
    try:
        return cls.model_validate(dict(data))
    except ValidationError as exc:
        raise BadInput(validation_message(exc, source)) from None


def resolve(
    cls: type[BaseModel],
    preset: Path | None,
    user_file: Path | None,
    sets: Iterable[str],
    fixed: Mapping[str, Any] | None = None,
) -> Any:
    """Layer preset, user file, ``--set`` and ``fixed`` values (e.g. the CLI's ``--seed``)."""
    data: dict[str, Any] = {}
    if preset is not None and preset.is_file():
        data = deep_merge(data, read_yaml(preset))
    if user_file is not None:
        data = deep_merge(data, read_yaml(user_file))
    source = "--set/--config" if user_file else "--set"
    data = apply_sets(data, parse_set(sets))
    if fixed:
        data = deep_merge(data, fixed)
    return validate(cls, data, source)


def dump_yaml(cfg: BaseModel) -> str:
    """The resolved config as YAML (paths as strings), for ``config.yaml`` in a run directory."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
