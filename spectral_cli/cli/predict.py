"""``spectral predict``: resolve the options, call :mod:`spectral_cli.export.predict`, print.

Each flag is shorthand for a key of the command's config
(:class:`~spectral_cli.export.report.PredictOptions`). No tensor math here.
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
    JsonOpt,
    OverwriteOpt,
    PredictOutOpt,
    PredictSeedOpt,
    PrintConfigOpt,
    QuietOpt,
    SetOpt,
    Shared,
    ThreadsOpt,
    VerboseOpt,
)
from spectral_cli.cli.output import emit

PREDICT_FLAGS = [
    Flag(
        "--input",
        "input",
        Path,
        "Inputs: an .npy array, or an .npz with x (and labels y) of the family's input shape.",
        options={"dir_okay": False},
    ),
    Flag(
        "--engine",
        "engine",
        str,
        "torch | onnxruntime (default: onnxruntime for an .onnx SOURCE, else torch).",
    ),
    Flag(
        "--model-input",
        "model_input",
        bool,
        "The input is the model input itself: tokens (token families) or standardized "
        "features (hmlp, mlp); default: raw signals or features, prepared as in training.",
    ),
    Flag("--tokens", "model_input", bool, "Token families: same as --model-input."),
    Flag("--batch-size", "batch_size", int, "Inputs per forward pass (default 256)."),
    Flag("--model", "model", str, "A run of several models: which one to run."),
]


@config_flags(PREDICT_FLAGS, panel="Prediction options")
def predict(
    source: Path = typer.Argument(
        ..., help="A run directory, a model .safetensors, or an .onnx file from 'spectral export'."
    ),
    *,
    flags: FlagValues,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    device: DeviceOpt = "auto",
    seed: PredictSeedOpt = None,
    out: PredictOutOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    overwrite: OverwriteOpt = False,
    threads: ThreadsOpt = None,
    print_config: PrintConfigOpt = False,
) -> None:
    """Run a trained model on your data and write its predictions.

    --out FILE: the predictions, .npz or .csv (default: INPUT-predictions.npz
    next to the input). With labels (y in an .npz) the family's metrics are
    reported too.

    Examples: spectral predict runs/hpe --input signals.npz --out preds.csv;
    spectral predict runs/hpe/model.onnx --input tokens.npy --tokens --json
    """
    shared = Shared.of(locals())
    from spectral_cli.core.device import resolve_device
    from spectral_cli.export.predict import run_predict
    from spectral_cli.export.report import PredictOptions

    opts = resolve_options(PredictOptions, "predict", flags, shared)
    if printed_config(opts, shared, "predict", "options"):
        return
    dev = resolve_device(shared.device)
    report = run_predict(source, shared.out, opts, dev, shared.overwrite)
    emit(shared, report, report.summary())
