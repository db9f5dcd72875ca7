"""``spectral ntk``: resolve the config, call :mod:`spectral_cli.ntk.run`.

Every flag is declared once, with the config key it sets (``--depth 3`` = ``--set
model.depth=3``); flags win over ``--set``, which wins over ``--config`` and the packaged
ntk-toy preset. No tensor math here.
"""

from __future__ import annotations

from typing import Any

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
from spectral_cli.core.errors import BadInput


def parse_values(text: str, flag: str) -> list[float]:
    """``"0,0.5,1,inf"`` -> floats (``inf`` allowed; range checks are the config's)."""
    items = text.split(",")
    if any(not v.strip() for v in items) and text.strip():
        raise BadInput(f"{flag} {text!r} has an empty item; list numbers like 0,0.5,1,inf")
    try:
        values = [float(v) for v in items if v.strip()]
    except ValueError:
        raise BadInput(
            f"{flag} takes comma-separated numbers like 0,0.5,1,inf, got {text!r}"
        ) from None
    if not values:
        raise BadInput(f"{flag} needs at least one value, e.g. 0,0.5,1,1.5,2,inf")
    return values


def _sweep(param: str) -> Any:
    def convert(text: str) -> dict[str, Any]:
        return {"sweep.param": param, "sweep.values": parse_values(text, f"--sweep-{param}")}

    return convert


NTK_FLAGS = [
    Flag(
        "--kernel",
        "kernel",
        str,
        "empirical | analytic (infinite width; ReLU, NTK parameterization only).",
    ),
    Flag(
        "--task",
        "task.name",
        str,
        "toy1d (default) or an .npz with x_train, y_train [, x_test, y_test].",
    ),
    Flag("--n-train", "task.n_train", int, "Training points (toy1d: 32)."),
    Flag("--n-test", "task.n_test", int, "Test points (default: all)."),
    Flag("--signals", "task.signals", int, "Random toy1d targets to average over (mean ± sd)."),
    Flag(
        "--target-slope",
        "task.slope",
        float,
        "toy1d power spectrum ∝ f^-α, amplitude ∝ f^(-α/2) (default 2: amplitude 1/f).",
    ),
    Flag("--depth", "model.depth", int, "Linear layers (default 4)."),
    Flag("--width", "model.width", int, "Hidden width (default 256)."),
    Flag("--parameterization", "model.parameterization", str, "ntk | standard."),
    Flag("--activation", "model.activation", str, "relu (default) | tanh (empirical kernel only)."),
    Flag("--w-std", "model.w_std", float, "Weight scale (default 1)."),
    Flag("--b-std", "model.b_std", float, "Bias scale (default 0)."),
    Flag("--encoding", "model.encoding", str, "none | basic | toy | posenc | gauss (default toy)."),
    Flag("--p", "model.p", float, "toy: a_j = j^-p (p >= 0, inf)."),
    Flag("--scale", "model.scale", float, "posenc/gauss sigma."),
    Flag(
        "--m",
        "model.m",
        int,
        "Number of frequencies (toy default: the full basis j = 1..n/2 "
        "of the grid; posenc/gauss: 16).",
    ),
    Flag(
        "--train-steps",
        "train.steps",
        int,
        "Full-batch GD steps (loss 1/2 Σ(f-y)²) compared with the NTK.",
    ),
    Flag("--lr", "train.lr", float, "GD learning rate (default 1/λ_max of the train kernel)."),
    Flag(
        "--sweep-p",
        "sweep.values",
        str,
        "e.g. 0,0.5,1,1.5,2,inf (toy encoding).",
        convert=_sweep("p"),
    ),
    Flag(
        "--sweep-scale",
        "sweep.values",
        str,
        "e.g. 1,3,10,30,100 (posenc / gauss).",
        convert=_sweep("scale"),
    ),
]


@config_flags(NTK_FLAGS, panel="Experiment options")
def ntk(
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
    """Neural tangent kernels, spectral bias and Fourier feature mappings.

    The spectral-bias experiment: kernel spectra, NTK vs gradient-descent dynamics, sweeps.

    Examples: spectral ntk --train-steps 2000 --out runs/ntk;
    spectral ntk --sweep-p 0,0.5,1,1.5,2,inf --signals 5 --out runs/ntk-sweep
    """
    shared = Shared.of(locals())
    given = {flag.name for flag, _ in flags.given}
    if {"--sweep-p", "--sweep-scale"} <= given:
        raise BadInput("pass --sweep-p or --sweep-scale, not both")
    from spectral_cli.cli.progress import RichObserver
    from spectral_cli.core.config import presets_dir
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.runs import RunDir
    from spectral_cli.core.signals import StopFlag, catch_signals
    from spectral_cli.ntk.config import NTKRunConfig
    from spectral_cli.ntk.run import prepare, run

    dev = resolve_device(shared.device)
    cfg = resolve_options(NTKRunConfig, "ntk", flags, shared, presets_dir() / "ntk-toy.yaml")
    prepared = prepare(cfg)  # all bad input is refused before the run directory is made
    if printed_config(cfg, shared, "ntk"):
        return
    name = cfg.model.encoding if cfg.sweep.param is None else f"sweep-{cfg.sweep.param}"
    run_dir = RunDir.open(shared.out, "ntk", name, overwrite=shared.overwrite)
    with (
        run_dir,
        RichObserver(quiet=shared.quiet, verbose=shared.verbose) as observer,
    ):
        observer.log(f"spectral ntk on {dev} (seed {cfg.seed}) -> {run_dir}")
        with catch_signals(StopFlag()) as stop:
            report = run(prepared, run_dir, dev, observer=observer, stop=stop, draw=shared.plots)
    if shared.details:
        for note in report.notes:
            log(shared, f"note: {note}")
    emit(shared, report, f"{report.summary()} -> {run_dir}")
