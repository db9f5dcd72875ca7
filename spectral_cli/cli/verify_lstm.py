"""``spectral verify-lstm``: parse options, call :mod:`spectral_cli.spectra_lstm.verify`.

Exit 0 when the worst relative error is within tolerance, 1 when not (the message names the worst
window and bin), 2 for bad input.  No tensor math here.
"""

from __future__ import annotations

from pathlib import Path

import typer

from spectral_cli.cli import options


def verify_lstm(
    window: int | None = typer.Option(None, "--window", help="Window length T >= 2 (default 8)."),
    windows: int | None = typer.Option(
        None, "--windows", help="Windows in the test signal (default 16; a FILE: all of it)."
    ),
    dtype: str | None = typer.Option(
        None, "--dtype", help="float64 | float32 (default float64; a checkpoint: its own)."
    ),
    tol: float | None = typer.Option(
        None, "--tol", help="Tolerance on the worst relative error (default 1e-12 / 1e-5)."
    ),
    signal: str = typer.Option(
        "random", "--signal", help="random | sines | FILE (.npy, .safetensors, .csv; 1-D)."
    ),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="Verify this spectra-lstm checkpoint instead of constructing.",
        dir_okay=False,
    ),
    plots: bool = typer.Option(
        True, "--plots/--no-plots", help="Write weight_hh.png and spectrogram.png (default on)."
    ),
    seed: int | None = options.SEED,
    device: str = options.DEVICE,
    out: Path | None = options.OUT,
    json_: bool = options.JSON,
    quiet: bool = options.QUIET,
    verbose: bool = options.VERBOSE,
    overwrite: bool = options.OVERWRITE,
) -> None:
    """Verify the hand-constructed power-spectrum LSTM against torch.fft (float64).

    Example: spectral verify-lstm --window 32 --dtype float32 --signal sines --out runs/v32
    """
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.errors import BadInput, CheckFailed
    from spectral_cli.core.runs import prepare_run_dir
    from spectral_cli.spectra_lstm.verify import VerifyOptions, prepare, run_verify

    def err(line: str) -> None:
        typer.echo(line, err=True)

    if dtype is not None and dtype not in ("float64", "float32"):
        raise BadInput(f"--dtype {dtype!r} is not float64 or float32")
    dev = resolve_device(device)
    name = f"T{window}" if window is not None else (checkpoint.stem if checkpoint else "T8")
    opts = VerifyOptions(window=window, windows=windows, dtype=dtype, tol=tol, signal=signal,
                         checkpoint=checkpoint, seed=seed if seed is not None else 0,
                         plots=plots)
    prepared = prepare(opts)  # all bad input is refused before the run directory is made
    run_dir = prepare_run_dir(out, "verify-lstm", name, overwrite=overwrite)
    report = run_verify(prepared, run_dir, dev)
    if report.note and not quiet:
        err(f"note: {report.note}")
    if verbose and not quiet:
        err(f"cell: {report.cell}, H={report.hidden_size}, source: {report.source}")
        if report.valid_amplitude:
            va = report.valid_amplitude
            err(f"full accuracy for max |x| <= {va['input_bound']:.3g} and window peak "
                      f"|X_k| >= {va['min_peak_magnitude']:.3g}")
    if json_:
        typer.echo(report.model_dump_json(indent=2))
    elif not quiet:
        typer.echo(f"{report.summary()} -> {run_dir}")
    if not report.passed:
        raise CheckFailed(
            f"worst relative error {report.max_error:.3g} exceeds tol {report.tol:g} at window "
            f"{report.worst_window}, bin {report.worst_bin} (T={report.window}, "
            f"{report.run_dtype}); report in {run_dir}"
        )
