"""What a command prints and the few files the CLI itself writes.

stdout carries the result only: the one-line summary, or with ``--json`` the report and nothing
else (``--quiet`` does not silence it). Logs and notes go to stderr, never wrapped (a CI log is
not a terminal: a long run directory stays on one line), and ``--quiet`` silences them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from spectral_cli.cli.options import Shared


def stderr_console() -> Console:
    """A rich console on stderr that prints text as given: no wrapping, markup or emoji."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False, markup=False, emoji=False)


def log(shared: Shared, message: str) -> None:
    """A log or note line on stderr (not with ``--quiet``)."""
    if shared.logs:
        typer.echo(message, err=True)


def emit(shared: Shared, report: Any, line: str) -> None:
    """The result on stdout: ``report`` as JSON with ``--json``, else the summary ``line``."""
    typer.echo(report.model_dump_json(indent=2) if shared.json else line)


def print_config(cfg: Any, *comments: str) -> None:
    """``cfg`` as YAML on stdout, ``comments`` as ``#`` lines first (still valid YAML)."""
    from spectral_cli.core.config import dump_yaml

    for comment in comments:
        typer.echo(f"# {comment}")
    typer.echo(dump_yaml(cfg), nl=False)


def reporting_rank() -> bool:
    """Whether this process reports a bad input or an interruption: always, except the ranks
    other than 0 of a launcher's group (``torchrun``), which all see the same input and the
    same signal and exit with the same code silently, so the user reads one line, not one per
    rank. Read from the launcher's environment: no torch, valid before the group exists."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) <= 1 or int(os.environ["RANK"]) == 0
    except (KeyError, ValueError):
        return True
