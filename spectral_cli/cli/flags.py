"""Flags that are shorthands for config keys, each declared once together with its key.

A command lists its flags as :class:`Flag` values (``Flag("--depth", "model.depth", int,
"...")``); :func:`config_flags` turns them into Typer options and hands the command the given
ones as :class:`FlagValues`, which become config overrides (``--depth 3`` is ``--set
model.depth=3``, and wins over it). Errors about a key that came from a flag name the flag.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from spectral_cli.core.errors import BadInput


@dataclass(frozen=True)
class Flag:
    """``decls`` (``"--depth"``, ``"--plots/--no-plots"``) sets the config key ``key``.

    ``convert(value) -> {dotted key: value}`` for a flag that sets several keys (default:
    ``{key: value}``). A flag that is not given (``None``) sets nothing.
    """

    decls: str
    key: str
    type: Any
    help: str
    convert: Callable[[Any], dict[str, Any]] | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def name(self) -> str:
        return self.decls.split("/")[0]

    @property
    def param(self) -> str:
        return self.name.lstrip("-").replace("-", "_")

    def overrides(self, value: Any) -> dict[str, Any]:
        return self.convert(value) if self.convert else {self.key: value}


SEED = Flag("--seed", "seed", int, "")  # the shared --seed, where it is a config key


def yaml_scalar(value: Any) -> str:
    """``value`` as the YAML scalar ``--set`` parses back to the same value and type."""
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, list):
        return "[" + ", ".join(yaml_scalar(v) for v in value) + "]"
    return json.dumps(value)


@dataclass(frozen=True)
class FlagValues:
    """The flags given on the command line, in declaration order."""

    given: tuple[tuple[Flag, Any], ...] = ()

    def plus(self, flag: Flag, value: Any) -> FlagValues:
        return self if value is None else FlagValues((*self.given, (flag, value)))

    def dotted(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for flag, value in self.given:
            out.update(flag.overrides(value))
        return out

    def nested(self) -> dict[str, Any]:
        """Overrides as nested sections (``core.config.resolve``'s ``fixed``)."""
        out: dict[str, Any] = {}
        for key, value in self.dotted().items():
            *sections, name = key.split(".")
            cur = out
            for section in sections:
                cur = cur.setdefault(section, {})
            cur[name] = value
        return out

    def as_sets(self) -> list[str]:
        """Overrides as ``--set`` items (appended after the user's, so flags win)."""
        return [f"{key}={yaml_scalar(value)}" for key, value in self.dotted().items()]

    def explain(self, message: str, where: str, hint: str) -> str:
        """``message`` about a key one of the flags set, reworded to name the flag."""
        for flag, value in reversed(self.given):
            keys = flag.overrides(value)
            if not any(f"'{key}'" in message for key in keys):
                continue
            if message.startswith("unknown config key"):
                return f"{flag.name} does not apply to {where} (no {flag.key} setting); {hint}"
            _, sep, reason = message.partition(": ")
            return f"invalid {flag.name}: {reason if sep else message}"
        return message


@contextlib.contextmanager
def config_errors(flags: FlagValues, where: str, print_config: str) -> Iterator[None]:
    """Reword a config error about a key a flag set so that it names the flag (``--init``,
    not ``model.init``); a key the command does not have points at ``--print-config``."""
    hint = f"see '{print_config}' for valid keys"
    try:
        yield
    except BadInput as exc:
        raise BadInput(flags.explain(str(exc), where, hint)) from None


def resolve_options(
    schema: type, command: str, flags: FlagValues, shared: Any, preset: Path | None = None
) -> Any:
    """A command's options: ``preset`` < ``--config`` < ``--set`` < its flags and ``--seed``,
    validated by ``schema``; an error about a key a flag set names the flag."""
    from spectral_cli.cli.output import log
    from spectral_cli.core.config import resolve
    from spectral_cli.core.deprecation import deprecation_notes

    flags = flags.plus(SEED, shared.seed)
    with (
        deprecation_notes(lambda note: log(shared, f"note: {note}")),
        config_errors(flags, f"spectral {command}", f"spectral {command} --print-config"),
    ):
        return resolve(schema, preset, shared.config, shared.sets, flags.nested())


def printed_config(cfg: Any, shared: Any, command: str, what: str = "config") -> bool:
    """``--print-config``: print ``cfg`` in the form ``--config`` accepts; True if printed
    (the command then stops, having created nothing)."""
    if not shared.print_config:
        return False
    from spectral_cli.cli.output import print_config

    it = "them" if what == "options" else "it"
    print_config(cfg, f"spectral {command}: resolved {what} (pass {it} back with --config FILE)")
    return True


def config_flags(
    flags: list[Flag], panel: str = "Config options"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Append one Typer option per flag; the command receives ``flags: FlagValues``."""
    by_param = {flag.param: flag for flag in flags}
    if len(by_param) != len(flags):
        raise TypeError("two flags with the same name")
    params = [
        (
            flag.param,
            flag.type | None,
            typer.Option(None, flag.decls, help=flag.help, rich_help_panel=panel, **flag.options),
        )
        for flag in flags
    ]

    def collect(values: dict[str, Any]) -> FlagValues:
        out = FlagValues()
        for param, flag in by_param.items():
            out = out.plus(flag, values.get(param))
        return out

    return functools.partial(inject_params, name="flags", params=params, collect=collect)


def inject_params(
    fn: Callable[..., Any],
    *,
    name: str,
    params: list[tuple[str, Any, Any]],
    collect: Callable[[dict[str, Any]], Any],
    prefix: str = "flag__",
) -> Callable[..., Any]:
    """Replace ``fn``'s parameter ``name`` by ``params`` (field, annotation, typer default);
    the wrapper passes ``collect({field: value})`` as ``name``."""
    sig = inspect.signature(fn, eval_str=True)
    if name not in sig.parameters:
        raise TypeError(f"{fn.__name__} needs a keyword parameter {name!r}")
    own = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in sig.parameters.values()
        if p.name != name
    ]
    added = [
        inspect.Parameter(
            prefix + field_name,
            inspect.Parameter.KEYWORD_ONLY,
            default=default,
            annotation=annotation,
        )
        for field_name, annotation, default in params
    ]
    clash = {p.name for p in own} & {p.name for p in added}
    if clash:
        raise TypeError(f"{fn.__name__}: parameters {sorted(clash)} declared twice")

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        mine = {k[len(prefix) :]: kwargs.pop(k) for k in list(kwargs) if k.startswith(prefix)}
        return fn(**kwargs, **{name: collect(mine)})

    new_sig = sig.replace(parameters=[*own, *added])
    wrapper.__signature__ = new_sig  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        p.name: p.annotation
        for p in new_sig.parameters.values()
        if p.annotation is not inspect.Parameter.empty
    }
    del wrapper.__wrapped__  # typer must see the new signature, not fn's
    return wrapper
