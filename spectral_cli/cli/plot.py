"""``spectral plot RUN [RUN ...]``: redraw every figure of run directories without training
(:mod:`spectral_cli.core.replot`)."""

from __future__ import annotations

import json as json_module
from pathlib import Path

import typer

from spectral_cli.cli.options import JsonOpt, QuietOpt, Shared, ThreadsOpt, VerboseOpt
from spectral_cli.cli.output import log


def plot(
    runs: list[Path] = typer.Argument(
        ...,
        metavar="RUN...",
        help="Run directories of train, tune, ntk, verify-lstm or harmony-score.",
    ),
    fmt: str = typer.Option("png", "--format", help="File format: png | svg | pdf."),
    dpi: int = typer.Option(110, "--dpi", help="Resolution in dots per inch (10-1200)."),
    *,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    threads: ThreadsOpt = None,
) -> None:
    """Redraw every figure of run directories from what they saved (report.json,
    metrics.jsonl, config.yaml, checkpoints), without training; one line per figure written.

    Example: spectral plot runs/hpe runs/tune --format svg --dpi 150
    """
    shared = Shared.of(locals())
    from spectral_cli.core.replot import replot_runs

    done = replot_runs(runs, fmt, dpi)  # the format is checked there
    written = [str(path) for _, files in done for path in files]
    if shared.json:
        typer.echo(json_module.dumps(written, indent=2))
    else:
        for line in written:
            typer.echo(line)
    for run, files in done:
        if not files:
            log(shared, f"note: {run} has no figures to draw")
