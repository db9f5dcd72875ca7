"""Subcommands that are not available yet: listed in ``--help``, refuse to run (exit 2)."""

from __future__ import annotations

import typer

from spectral_cli.core.errors import BadInput

PENDING: dict[str, str] = {}  # name -> help of a subcommand that is not built yet


def _make(name: str) -> typer.models.CommandFunctionType:
    def command(ctx: typer.Context) -> None:
        raise BadInput(f"'spectral {name}' is not available yet; see the README for status")

    return command


def register(app: typer.Typer) -> None:
    for name, help_text in PENDING.items():
        app.command(
            name,
            help=f"{help_text} (not available yet)",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_make(name))
