"""``spectral ntk``: parse options, resolve the config, call :mod:`spectral_cli.ntk.run`.

Every flag is a shorthand for a config key (``--depth 3`` = ``--set model.depth=3``); flags win
over ``--set``, which wins over ``--config`` and the preset ``configs/ntk-toy.yaml``. No tensor
math here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from spectral_cli.cli import options
from spectral_cli.core.errors import BadInput


def parse_values(text: str, flag: str) -> list[float]:
    """``"0,0.5,1,inf"`` -> floats (``inf`` allowed; range checks are the config's)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise BadInput(f"{flag} takes comma-separated numbers like 0,0.5,1,inf, got {text!r}"
                       ) from None
    if not values:
        raise BadInput(f"{flag} needs at least one value, e.g. 0,0.5,1,1.5,2,inf")
    return values


def _fixed(flags: dict[str, Any]) -> dict[str, Any]:
    """Nested config overrides from the flags that were given."""
    out: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None:
            continue
        section, _, name = key.rpartition(".")
        (out.setdefault(section, {}) if section else out)[name] = value
    return out


def ntk(
    kernel: str | None = typer.Option(None, "--kernel", help="empirical | analytic "
                                      "(infinite width; ReLU, NTK parameterization only)."),
    task: str | None = typer.Option(None, "--task", help="toy1d (default) or an .npz with "
                                    "x_train, y_train [, x_test, y_test]."),
    n_train: int | None = typer.Option(None, "--n-train", help="Training points (toy1d: 32)."),
    n_test: int | None = typer.Option(None, "--n-test", help="Test points (default: all)."),
    signals: int | None = typer.Option(None, "--signals", help="Random toy1d targets to "
                                       "average over (mean ± sd)."),
    target_slope: float | None = typer.Option(None, "--target-slope", help="toy1d power "
                                              "spectrum ∝ f^-α, amplitude ∝ f^(-α/2) (default "
                                              "2: amplitude 1/f)."),
    depth: int | None = typer.Option(None, "--depth", help="Linear layers (default 4)."),
    width: int | None = typer.Option(None, "--width", help="Hidden width (default 256)."),
    parameterization: str | None = typer.Option(None, "--parameterization", help="ntk | "
                                                "standard."),
    activation: str | None = typer.Option(None, "--activation", help="relu (default) | tanh "
                                          "(empirical kernel only)."),
    w_std: float | None = typer.Option(None, "--w-std", help="Weight scale (default 1)."),
    b_std: float | None = typer.Option(None, "--b-std", help="Bias scale (default 0)."),
    encoding: str | None = typer.Option(None, "--encoding", help="none | basic | toy | posenc "
                                        "| gauss (default toy)."),
    p: float | None = typer.Option(None, "--p", help="toy: a_j = j^-p (p >= 0, inf)."),
    scale: float | None = typer.Option(None, "--scale", help="posenc/gauss sigma."),
    m: int | None = typer.Option(None, "--m", help="Number of frequencies (default 16)."),
    train_steps: int | None = typer.Option(None, "--train-steps", help="Full-batch GD steps "
                                           "(loss 1/2 Σ(f-y)²) compared with the NTK."),
    lr: float | None = typer.Option(None, "--lr", help="GD learning rate (default "
                                    "1/λ_max of the train kernel)."),
    sweep_p: str | None = typer.Option(None, "--sweep-p", help="e.g. 0,0.5,1,1.5,2,inf "
                                       "(toy encoding)."),
    sweep_scale: str | None = typer.Option(None, "--sweep-scale", help="e.g. 1,3,10,30,100 "
                                           "(posenc / gauss)."),
    config: Path | None = options.CONFIG,
    set_: list[str] = options.SET,
    device: str = options.DEVICE,
    seed: int | None = options.SEED,
    out: Path | None = options.OUT,
    json_: bool = options.JSON,
    quiet: bool = options.QUIET,
    verbose: bool = options.VERBOSE,
    overwrite: bool = options.OVERWRITE,
) -> None:
    """Neural tangent kernels, spectral bias and Fourier feature mappings (seed 004).

    Examples: spectral ntk --train-steps 2000 --out runs/ntk;
    spectral ntk --sweep-p 0,0.5,1,1.5,2,inf --signals 5 --out runs/ntk-sweep
    """
    if sweep_p is not None and sweep_scale is not None:
        raise BadInput("pass --sweep-p or --sweep-scale, not both")
    sweep: dict[str, Any] = {}
    if sweep_p is not None:
        sweep = {"sweep.param": "p", "sweep.values": parse_values(sweep_p, "--sweep-p")}
    elif sweep_scale is not None:
        sweep = {"sweep.param": "scale",
                 "sweep.values": parse_values(sweep_scale, "--sweep-scale")}
    from spectral_cli.cli.progress import RichObserver
    from spectral_cli.core.config import presets_dir, resolve
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.runs import prepare_run_dir
    from spectral_cli.core.signals import StopFlag, catch_signals
    from spectral_cli.ntk.config import NTKRunConfig
    from spectral_cli.ntk.run import prepare, run

    fixed = _fixed({
        "seed": seed, "kernel": kernel, "task.name": task, "task.n_train": n_train,
        "task.n_test": n_test, "task.signals": signals, "task.slope": target_slope,
        "model.depth": depth, "model.width": width, "model.parameterization": parameterization,
        "model.activation": activation, "model.w_std": w_std, "model.b_std": b_std,
        "model.encoding": encoding, "model.p": p, "model.scale": scale, "model.m": m,
        "train.steps": train_steps, "train.lr": lr, **sweep,
    })
    dev = resolve_device(device)
    cfg = resolve(NTKRunConfig, presets_dir() / "ntk-toy.yaml", config, set_, fixed)
    prepared = prepare(cfg)  # all bad input is refused before the run directory is made
    name = cfg.model.encoding if cfg.sweep.param is None else f"sweep-{cfg.sweep.param}"
    run_dir = prepare_run_dir(out, "ntk", name, overwrite=overwrite)
    with RichObserver(quiet=quiet, verbose=verbose) as observer:
        observer.log(f"spectral ntk on {dev} (seed {cfg.seed}) -> {run_dir}")
        with catch_signals(StopFlag()) as stop:
            report = run(prepared, run_dir, dev, observer=observer, stop=stop)
    for note in report.notes:
        if verbose and not quiet:
            typer.echo(f"note: {note}", err=True)
    if json_:
        typer.echo(report.model_dump_json(indent=2))
    elif not quiet:
        typer.echo(f"{report.summary()} -> {run_dir}")
