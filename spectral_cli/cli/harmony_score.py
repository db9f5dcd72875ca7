"""``spectral harmony-score``: parse options, call :mod:`spectral_cli.harmony.score`."""

from __future__ import annotations

from pathlib import Path

import typer

from spectral_cli.cli import options
from spectral_cli.core.errors import BadInput

VARIANT_CHOICES = ("seed", "fixed")
BAND_CHOICES = ("seed", "hutchinson-knopoff", "sethares")


def harmony_score(
    vectors: Path | None = typer.Option(
        None, "--vectors", help="Latent vectors: .json list of equal-length lists, .npy, or "
        ".safetensors (one tensor or one named 'latents').",
    ),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="A 'spectral train hae' model.safetensors: score its latents "
        "of valid vs generated invalid signals (AUROC, histogram).",
    ),
    data: str = typer.Option(
        "mnist1d", "--data", help="With --checkpoint: mnist1d (test split) or an .npz/.npy of "
        "signals.",
    ),
    variant: str | None = typer.Option(
        None, "--variant", help="seed | fixed (default fixed; with --checkpoint the model's own)."
    ),
    critical_band: str | None = typer.Option(
        None, "--critical-band", help="seed | hutchinson-knopoff | sethares (default: the "
        "variant's own).",
    ),
    alpha: float = typer.Option(1.0, "--alpha", help="Weight of the alignment (--vectors)."),
    beta: float = typer.Option(0.5, "--beta", help="Weight of the dissonance (--vectors)."),
    device: str = options.DEVICE,
    seed: int | None = options.SEED,
    out: Path | None = options.OUT,
    json_: bool = options.JSON,
    quiet: bool = options.QUIET,
    verbose: bool = options.VERBOSE,
    overwrite: bool = options.OVERWRITE,
) -> None:
    """Score latent vectors with the harmony/dissonance measures, or a trained HAE's latents.

    Examples: spectral harmony-score --vectors z.npy --json;
    spectral harmony-score --checkpoint runs/hae/model.safetensors --out runs/hae-score
    """
    if (vectors is None) == (checkpoint is None):
        raise BadInput("pass exactly one of --vectors FILE or --checkpoint RUN/model.safetensors")
    if variant is not None and variant not in VARIANT_CHOICES:
        raise BadInput(f"--variant {variant!r} is not one of {', '.join(VARIANT_CHOICES)}")
    if critical_band is not None and critical_band not in BAND_CHOICES:
        raise BadInput(f"--critical-band {critical_band!r} is not one of {', '.join(BAND_CHOICES)}")
    from spectral_cli.core.report import write_report
    from spectral_cli.core.runs import prepare_run_dir
    from spectral_cli.harmony import score as harmony_report

    if vectors is not None:
        report = harmony_report.score_vectors(
            vectors, variant or "fixed", critical_band, alpha, beta
        )
        if out is not None:  # scoring a file writes no run directory unless asked to
            run_dir = prepare_run_dir(out, "harmony-score", vectors.stem, overwrite=overwrite)
            report.files["report"] = "report.json"
            write_report(run_dir / "report.json", report)
    else:
        from spectral_cli.core.device import resolve_device

        assert checkpoint is not None
        dev = resolve_device(device)
        if not checkpoint.is_file():
            raise BadInput(f"--checkpoint {checkpoint} does not exist")
        harmony_report.load_hae(checkpoint, dev)  # refuse a foreign file before making a run dir
        run_dir = prepare_run_dir(out, "harmony-score", checkpoint.parent.name, overwrite=overwrite)
        report = harmony_report.score_checkpoint(
            checkpoint, data, run_dir, dev, 0 if seed is None else seed, variant, critical_band
        )
        write_report(run_dir / "report.json", report)
        if verbose and not quiet:
            typer.echo(f"wrote {run_dir}", err=True)
    if json_:
        typer.echo(report.model_dump_json(indent=2))
    elif not quiet:
        typer.echo(report.summary())
