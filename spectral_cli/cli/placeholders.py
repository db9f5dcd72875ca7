"""Subcommands whose issue has not landed yet: listed in ``--help``, refuse to run (exit 2)."""

from __future__ import annotations

import typer

from spectral_cli.core.errors import BadInput

PENDING = {
    "export": ("Export a trained checkpoint (ONNX / TorchScript) with a parity check.", 0),
}


def _make(name: str, issue: int) -> typer.models.CommandFunctionType:
    def command(ctx: typer.Context) -> None:
        where = f" (tracked in issue #{issue})" if issue else ""
        raise BadInput(f"'spectral {name}' is not available yet{where}; see the README for status")

    return command


def register(app: typer.Typer) -> None:
    for name, (help_text, issue) in PENDING.items():
        app.command(
            name,
            help=f"{help_text} (not available yet)",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_make(name, issue))
