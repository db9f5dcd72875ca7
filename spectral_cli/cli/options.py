"""Options every subcommand shares (DESIGN.md, "Every subcommand shares")."""

from __future__ import annotations

import typer

CONFIG = typer.Option(
    None, "--config", help="YAML preset; layered over the family's defaults.", dir_okay=False
)
SET = typer.Option(
    [], "--set", help="Dotted override key=value, repeatable (e.g. --set train.lr=0.003)."
)
DEVICE = typer.Option(
    "auto", "--device", help="auto | cpu | cuda | cuda:N (auto = CUDA if present)."
)
SEED = typer.Option(None, "--seed", help="Random seed (default: the config's, 0).")
OUT = typer.Option(None, "--out", help="Run directory (default runs/<command>-<name>-<timestamp>).")
JSON = typer.Option(False, "--json", help="Print the final report as JSON on stdout, nothing else.")
QUIET = typer.Option(False, "--quiet", "-q", help="No logs or progress on stderr.")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Per-epoch logs on stderr.")
OVERWRITE = typer.Option(False, "--overwrite", help="Allow writing into a non-empty --out.")
RESUME = typer.Option(False, "--resume", help="Continue the interrupted run in --out.")
