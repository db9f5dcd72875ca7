"""Options every subcommand shares, declared once (docs/architecture.md, "Shared options").

Typer has no reusable option groups, so :func:`shared_options` appends the shared parameters to
a command function's signature (``--help`` lists them in their own panel, ``CliRunner`` and
shell completion see ordinary options) and hands the command one :class:`Shared` value::

    @shared_options(resume=True, print_config=True)
    def train(family: str = typer.Argument(...), *, shared: Shared) -> None: ...

Nothing here imports torch.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

PANEL = "Common options"


@dataclass(frozen=True)
class Shared:
    """The shared options of one invocation."""

    config: Path | None = None
    sets: tuple[str, ...] = ()
    device: str = "auto"
    seed: int | None = None
    out: Path | None = None
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    overwrite: bool = False
    resume: bool = False
    print_config: bool = False
    threads: int | None = None
    logger: tuple[str, ...] = ()

    @property
    def logs(self) -> bool:
        """Whether logs and notes go to stderr (not with ``--quiet``)."""
        return not self.quiet

    @property
    def details(self) -> bool:
        """Whether ``--verbose`` details go to stderr."""
        return self.verbose and not self.quiet


def _option(default: Any, *decls: str, help: str, **kw: Any) -> Any:
    return typer.Option(default, *decls, help=help, rich_help_panel=PANEL, **kw)


def _declare(
    seed_help: str | None, resume_help: str | None, out: tuple[str, str] | None = None
) -> list[tuple[str, Any, Any]]:
    """(Shared field, annotation, Typer option) of every shared option, in --help order."""
    return [
        (
            "config",
            Path | None,
            _option(
                None,
                "--config",
                dir_okay=False,
                metavar="FILE",
                help="YAML config; layered over the defaults, under --set and the flags.",
            ),
        ),
        (
            "sets",
            list[str],
            _option(
                [],
                "--set",
                metavar="KEY=VALUE",
                help="Dotted override, repeatable (e.g. --set train.lr=0.003).",
            ),
        ),
        (
            "device",
            str,
            _option(
                "auto",
                "--device",
                metavar="DEVICE",
                help="auto | cpu | cuda | cuda:N (auto = CUDA if present).",
            ),
        ),
        (
            "seed",
            int | None,
            _option(
                None,
                "--seed",
                metavar="N",
                help=seed_help or "Random seed (default: the config's, 0).",
            ),
        ),
        (
            "out",
            Path | None,
            _option(
                None,
                "--out",
                metavar=out[0] if out else "DIR",
                help=out[1]
                if out
                else "Run directory (default runs/<command>-<name>-<timestamp>); "
                "an existing non-empty one needs --overwrite or --resume.",
            ),
        ),
        (
            "json",
            bool,
            _option(
                False, "--json", help="Print the final report as JSON on stdout, nothing else."
            ),
        ),
        (
            "quiet",
            bool,
            _option(
                False,
                "--quiet",
                "-q",
                help="No logs, notes or progress on stderr (errors still); "
                "the result still goes to stdout.",
            ),
        ),
        (
            "verbose",
            bool,
            _option(False, "--verbose", "-v", help="More detail on stderr (per-epoch logs)."),
        ),
        (
            "overwrite",
            bool,
            _option(False, "--overwrite", help="Allow writing into a non-empty --out."),
        ),
        (
            "resume",
            bool,
            _option(
                False, "--resume", help=resume_help or "Continue the interrupted run in --out."
            ),
        ),
        (
            "threads",
            int | None,
            _option(
                None,
                "--threads",
                metavar="N",
                min=1,
                max=1024,
                help="torch intra-op threads (default: torch's); recorded in the report. On a "
                "busy machine fewer threads can be much faster.",
            ),
        ),
        (
            "logger",
            list[str],
            _option(
                [],
                "--logger",
                metavar="NAME",
                help="Also log to: tensorboard (event files under the run directory; "
                "pip install 'spectral-cli[tensorboard]'). metrics.jsonl is always written.",
            ),
        ),
        (
            "print_config",
            bool,
            _option(
                False,
                "--print-config",
                help="Print the resolved config as YAML (what --config "
                "accepts) and exit; creates nothing.",
            ),
        ),
    ]


_PREFIX = "shared__"


def shared_options(
    *,
    resume: bool = False,
    print_config: bool = False,
    logger: bool = False,
    seed_help: str | None = None,
    resume_help: str | None = None,
    out: tuple[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Append the shared options to a command; it receives them as ``shared: Shared``.

    ``--resume`` only where a run can resume, ``--print-config`` only where one config is
    resolved, ``--logger`` only where a model trains; ``out`` = (metavar, help) where ``--out``
    is a file, not a run directory.
    """
    switches = (("resume", resume), ("print_config", print_config), ("logger", logger))
    skip = {name for name, on in switches if not on}
    specs = [spec for spec in _declare(seed_help, resume_help, out) if spec[0] not in skip]
    return functools.partial(inject_params, name="shared", params=specs, collect=_collect_shared)


def _collect_shared(values: dict[str, Any]) -> Shared:
    values["sets"] = tuple(values.get("sets") or ())
    values["logger"] = tuple(values.get("logger") or ())
    if values.get("threads") is not None:  # before the command computes anything
        import torch

        torch.set_num_threads(values["threads"])
    return Shared(**values)


def inject_params(
    fn: Callable[..., Any],
    *,
    name: str,
    params: list[tuple[str, Any, Any]],
    collect: Callable[[dict[str, Any]], Any],
    prefix: str = _PREFIX,
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
