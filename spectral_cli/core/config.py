"""Resolve a run config: schema defaults, then the family preset, then ``--config``, then ``--set``.

Every failure is a :class:`~spectral_cli.core.errors.BadInput` with a one-line message that names
the offending key or file and says how to fix it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from spectral_cli.core.deprecation import DeprecatedNameWarning
from spectral_cli.core.errors import BadInput
from spectral_cli.core.safe_yaml import MAX_CONFIG_NODES as MAX_CONFIG_NODES
from spectral_cli.core.safe_yaml import safe_yaml
from spectral_cli.core.schema import KEYED_ERRORS, STRICT_TYPES


def presets_dir() -> Path:
    """The directory of YAML presets: packaged copy in a wheel, ``configs/`` in a checkout."""
    packaged = Path(__file__).resolve().parents[1] / "configs"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "configs"


MAX_CONFIG_BYTES = 1_000_000  # a config file is a few hundred bytes; refuse anything huge


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing, unreadable, oversized or non-mapping file is bad input."""
    if not path.is_file():
        raise BadInput(f"config file {path} does not exist; pass an existing YAML file")
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise BadInput(
                f"config file {path} is {size:,} bytes; config files are limited to "
                f"{MAX_CONFIG_BYTES:,} bytes"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"config file {path} cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise BadInput(f"config file {path} is not UTF-8 text") from None
    data = safe_yaml(text, f"config file {path}")
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
            value = safe_yaml(raw, f"--set {key}") if raw.strip() else ""
        except BadInput:
            value = raw
        if isinstance(value, str) and len(value) > 4096 and raw.strip().lstrip("+-").isdigit():
            raise BadInput(f"--set {key}: a number of {len(raw.strip()):,} digits is no setting")
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


def _section_keys(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The valid keys of the section that holds ``loc`` (empty if it cannot be found)."""
    for part in loc[:-1]:
        field = cls.model_fields.get(str(part))
        sub = getattr(field, "annotation", None) if field is not None else None
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            return []
        cls = sub
    return list(cls.model_fields)


def _short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` for a one-line message: a 100 KB string is cut (its length said)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text):,} characters)"


def validation_message(
    exc: ValidationError, source: str, cls: type[BaseModel] | None = None
) -> str:
    """One line describing the first validation error of ``exc``, naming the key."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] in KEYED_ERRORS:
        ctx = err.get("ctx", {})
        key = ".".join(filter(None, [loc, str(ctx.get("key", ""))]))
        return f"invalid config value for '{key}' in {source}: {err['msg']}"
    if err["type"] in STRICT_TYPES:
        got = err.get("input")
        takes = STRICT_TYPES[err["type"]]
        key = ".".join(str(p) for p in err["loc"] if isinstance(p, str))
        items = [p for p in err["loc"] if isinstance(p, int)]
        where = f"item {items[-1]} " if items else ""
        if err["type"] == "int_type" and isinstance(got, float) and got.is_integer() is False:
            takes = "a whole number"
        elif err["type"] == "int_type" and isinstance(got, float):
            takes = "a whole number (write it without the decimal point)"
        return (
            f"invalid config value for '{key}' in {source}: {where}takes {takes}, not the "
            f"{type(got).__name__} {_short_repr(got)}"
        )
    if err["type"] == "extra_forbidden":
        keys = _section_keys(cls, tuple(err["loc"])) if cls is not None else []
        hint = f"; valid keys there: {', '.join(keys)}" if keys else ""
        return f"unknown config key '{loc}' in {source}{hint}"
    got = err.get("input")
    got_txt = "" if isinstance(got, dict) else f" (got {_short_repr(got)})"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if not loc:  # a check across keys (a model validator): its message names them
        return msg
    return f"invalid config value for '{loc}' in {source}: {msg}{got_txt}"


def validate(cls: type[BaseModel], data: Mapping[str, Any], source: str) -> Any:
    """Validate ``data`` against ``cls`` or raise :class:`BadInput` with a one-line message."""
    try:
        return cls.model_validate(dict(data))
    except ValidationError as exc:
        raise BadInput(validation_message(exc, source, cls)) from None


def resolve(
    cls: type[BaseModel],
    preset: Path | None,
    user_file: Path | None,
    sets: Iterable[str],
    fixed: Mapping[str, Any] | None = None,
    options: Iterable[str] = (),
) -> Any:
    """Layer preset, user file, ``--set``, then ``options`` (the command's flags in ``--set``
    form) and ``fixed`` values (e.g. the CLI's ``--seed``). A ``--set`` item that a later one
    replaces is validated too; one that an option or ``fixed`` replaces is also noted."""
    data: dict[str, Any] = {}
    if preset is not None and preset.is_file():
        data = deep_merge(data, read_yaml(preset))
    if user_file is not None:
        data = deep_merge(data, read_yaml(user_file))
    source = "--set/--config" if user_file else "--set"
    parsed, by_options = parse_set(sets), parse_set(options)
    merged = apply_sets(data, parsed + by_options)
    if fixed:
        merged = deep_merge(merged, fixed)
    cfg = validate(cls, merged, source)
    _check_overridden(cls, merged, parsed, by_options, fixed or {}, source)
    return cfg


class OverriddenSetting(DeprecatedNameWarning):
    """A ``--set`` item replaced by a later value of its key (a later ``--set``, a flag such as
    ``--width``, ``--seed``); said as a ``note:`` line like a renamed value."""


def _check_overridden(
    cls: type[BaseModel],
    merged: dict[str, Any],
    parsed: list[tuple[list[str], Any]],
    by_options: list[tuple[list[str], Any]],
    fixed: Mapping[str, Any],
    source: str,
) -> None:
    """Validate each ``--set`` item that a later value replaces, as if it were the last (a
    ``--set model.width=abc`` under ``--width 8`` passed unseen); note the ones an option
    replaced (a repeated ``--set`` is the user's own doing)."""
    final = json.loads(json.dumps(merged, default=str))
    for i, (parts, value) in enumerate(parsed):
        node: Any = fixed
        for part in parts:
            node = node.get(part) if isinstance(node, Mapping) else None
        by_option = node is not None or parts in [p for p, _ in by_options]
        if not by_option and parts not in [p for p, _ in parsed[i + 1 :]]:
            continue
        key = ".".join(parts)
        try:
            validate(cls, apply_sets(final, [(parts, value)]), source)
        except BadInput as exc:
            reason = str(exc).partition(": ")[2] or str(exc)
            raise BadInput(
                f"--set {key}={_short_repr(value)} is invalid (a later value replaces it, but "
                f"it was given): {reason}"
            ) from None
        now: Any = final
        for part in parts:
            now = now.get(part) if isinstance(now, Mapping) else None
        if by_option and now != value:
            warnings.warn(
                OverriddenSetting(
                    f"--set {key}={_short_repr(value)} is overridden by a later value "
                    f"({_short_repr(now)}, from an option such as --seed)"
                ),
                stacklevel=2,
            )


def dump_yaml(cfg: BaseModel) -> str:
    """The resolved config as YAML (paths as strings), for ``config.yaml`` in a run directory."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
