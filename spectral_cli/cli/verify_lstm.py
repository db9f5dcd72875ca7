"""``spectral verify-lstm``: resolve the config, call :mod:`spectral_cli.spectra_lstm.verify`.

Exit 0 when the worst relative error is within tolerance, 1 when not (the message names the worst
window and bin), 2 for bad input. Each flag is shorthand for a key of the command's config
(:class:`~spectral_cli.spectra_lstm.verify.VerifyOptions`): defaults < ``--config`` < ``--set``
< flags. No tensor math here.
"""

from __future__ import annotations

from pathlib import Path

from spectral_cli.cli.flags import (
    Flag,
    FlagValues,
    config_flags,
    printed_config,
    resolve_options,
)
from spectral_cli.cli.options import (
    ConfigOpt,
    DeviceOpt,
    JsonOpt,
    OutOpt,
    OverwriteOpt,
    PlotsOpt,
    PrintConfigOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    Shared,
    ThreadsOpt,
    VerboseOpt,
)
from spectral_cli.cli.output import emit, log

VERIFY_FLAGS = [
    Flag("--window", "window", int, "Window length T >= 2 (default 8)."),
    Flag(
        "--windows", "windows", int, "Windows in the test signal (default 16; a FILE: all of it)."
    ),
    Flag("--dtype", "dtype", str, "float64 | float32 (default float64; a checkpoint: its own)."),
    Flag("--tol", "tol", float, "Tolerance on the worst relative error (default 1e-12 / 1e-5)."),
    Flag(
        "--signal",
        "signal",
        str,
        "random (default) | sines | FILE (.npy, .safetensors, .csv; 1-D).",
    ),
    Flag(
        "--checkpoint",
        "checkpoint",
        Path,
        "Verify this spectra-lstm checkpoint instead of constructing.",
        options={"dir_okay": False},
    ),
]


@config_flags(VERIFY_FLAGS, panel="Verification options")
def verify_lstm(
    *,
    flags: FlagValues,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = None,
    out: OutOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    overwrite: OverwriteOpt = False,
    threads: ThreadsOpt = None,
    plots: PlotsOpt = True,
    print_config: PrintConfigOpt = False,
) -> None:
    """Verify the hand-constructed power-spectrum LSTM against torch.fft (float64).

    Example: spectral verify-lstm --window 32 --dtype float32 --signal sines --out runs/v32
    """
    shared = Shared.of(locals())
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.errors import CheckFailed
    from spectral_cli.core.runs import RunDir
    from spectral_cli.spectra_lstm.verify import VerifyOptions, prepare, run_verify

    dev = resolve_device(shared.device)
    cfg = resolve_options(VerifyOptions, "verify-lstm", flags, shared)
    if not shared.plots:  # the shared --no-plots; the config key `plots: false` works too
        cfg = cfg.model_copy(update={"plots": False})
    prepared = prepare(cfg)  # all bad input is refused before the run directory is made
    if printed_config(cfg, shared, "verify-lstm"):
        return
    name = f"T{prepared.window}"
    with RunDir.open(shared.out, "verify-lstm", name, overwrite=shared.overwrite) as run_dir:
        report = run_verify(prepared, run_dir, dev)
    if report.note:
        log(shared, f"note: {report.note}")
    if shared.details:
        log(shared, f"cell: {report.cell}, H={report.hidden_size}, source: {report.source}")
        if report.valid_amplitude:
            va = report.valid_amplitude
            log(
                shared,
                f"full accuracy for max |x| <= {va['input_bound']:.3g} and window peak "
                f"|X_k| >= {va['min_peak_magnitude']:.3g}",
            )
    emit(shared, report, f"{report.summary()} -> {run_dir}")
    if not report.passed:
        raise CheckFailed(
            f"worst relative error {report.max_error:.3g} exceeds tol {report.tol:g} at window "
            f"{report.worst_window}, bin {report.worst_bin} (T={report.window}, "
            f"{report.run_dtype}); report in {run_dir}"
        )
