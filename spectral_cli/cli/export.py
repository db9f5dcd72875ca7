"""``spectral export``: resolve the options, call :mod:`spectral_cli.export.run`, print.

Each flag is shorthand for a key of the command's config
(:class:`~spectral_cli.export.report.ExportOptions`): defaults < ``--config`` < ``--set`` <
flags. Exit 0 when the export matches its source within ``--tol``, 1 when not (no file is
written), 2 for bad input. No tensor math here.
"""

from __future__ import annotations

from pathlib import Path

import typer

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
    ExportOutOpt,
    ExportSeedOpt,
    JsonOpt,
    OverwriteOpt,
    PrintConfigOpt,
    QuietOpt,
    SetOpt,
    Shared,
    ThreadsOpt,
    VerboseOpt,
)
from spectral_cli.cli.output import emit, log

EXPORT_FLAGS = [
    Flag(
        "--format",
        "format",
        str,
        "onnx | dense | safetensors (required): an ONNX graph, an hpe/factorized model as a "
        "standard one, or a half-precision re-save.",
    ),
    Flag(
        "--model",
        "model",
        str,
        "A run of several models (--compare, --baseline): which one to export.",
    ),
    Flag("--opset", "opset", int, "ONNX opset (default 18)."),
    Flag(
        "--tol",
        "tol",
        float,
        "Largest allowed |a-b| / max(1, |a|) between source and export (default 1e-5; "
        "half-precision re-saves 5e-2 for float16, 5e-1 for bfloat16).",
    ),
    Flag("--dtype", "dtype", str, "float16 | bfloat16 (--format safetensors; default float16)."),
]


@config_flags(EXPORT_FLAGS, panel="Export options")
def export(
    source: Path = typer.Argument(
        ..., help="A run directory of 'spectral train' or a model .safetensors checkpoint."
    ),
    *,
    flags: FlagValues,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    device: DeviceOpt = "auto",
    seed: ExportSeedOpt = None,
    out: ExportOutOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    overwrite: OverwriteOpt = False,
    threads: ThreadsOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Export a trained checkpoint: ONNX, a dense embedding table, or half precision.

    --out FILE: the exported file (default, in the run directory: named after --model NAME
    if given, e.g. sae.onnx, sae-dense.safetensors or sae-float16.safetensors, else after the
    checkpoint file, e.g. model.onnx for a run's model.safetensors).

    The export is checked against its source on test and random inputs:
    above --tol nothing is written and the exit code is 1.

    Examples: spectral export runs/hpe --format onnx;
    spectral export runs/hpe --format dense --out hpe-dense.safetensors;
    spectral export runs/hpe --format safetensors --dtype bfloat16
    """
    shared = Shared.of(locals())
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.errors import CheckFailed
    from spectral_cli.export.report import ExportOptions
    from spectral_cli.export.run import run_export

    opts = resolve_options(ExportOptions, "export", flags, shared)
    if printed_config(opts, shared, "export", "options"):
        return
    dev = resolve_device(shared.device)
    report = run_export(source, shared.out, opts, dev, shared.overwrite)
    if shared.details:
        for case in report.parity.cases:
            log(
                shared,
                f"{case.input:>14}: max abs {case.max_abs:.3g}, max rel "
                f"{case.max_rel:.3g}, max err {case.max_err:.3g}",
            )
    if report.parity.passed:  # a failed check's note is its error line
        for note in report.notes:
            log(shared, f"note: {note}")
    emit(shared, report, report.summary())
    if not report.parity.passed:
        p = report.parity
        raise CheckFailed(
            f"{p.candidate} differs from {p.reference} by {p.max_err:.3g} "
            f"(max abs {p.max_abs:.3g}) > --tol {p.tol:g}; {report.out} was not "
            "written"
        )
