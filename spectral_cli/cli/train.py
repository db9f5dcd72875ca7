"""``spectral train FAMILY``: parse options, call :mod:`spectral_cli.core.pipeline`, print."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from spectral_cli.cli import options
from spectral_cli.core.registry import family_names


def _family_option(flag: str, default: Any, help_text: str) -> Any:
    """An option that is shorthand for a family's config key (see FLAG_KEYS)."""
    return typer.Option(default, flag, help=help_text, rich_help_panel="Family options")


def train(
    family: str = typer.Argument(..., help=f"Model family: {', '.join(family_names())}."),
    config: Path | None = options.CONFIG,
    set_: list[str] = options.SET,
    device: str = options.DEVICE,
    seed: int | None = options.SEED,
    out: Path | None = options.OUT,
    json_: bool = options.JSON,
    quiet: bool = options.QUIET,
    verbose: bool = options.VERBOSE,
    overwrite: bool = options.OVERWRITE,
    resume: bool = options.RESUME,
    init: str | None = _family_option(
        "--init", None, "Initialization, for families that have one (model.init)."
    ),
    window: int | None = _family_option(
        "--window", None, "Window length, for families that have one (model.window)."
    ),
    baseline: str | None = _family_option(
        "--baseline", None, "Baseline trained in the same run (model.baseline)."
    ),
    compare: bool = _family_option(
        "--compare", False, "Train the family's comparison set in one run (train.compare)."
    ),
    data_dir: Path | None = _family_option(
        "--data-dir", None, "Directory of user-provided data files (data.dir)."
    ),
) -> None:
    """Train a registered model family into a run directory (data: see the family's preset).

    Example: spectral train hpe --set train.epochs=10 --out runs/hpe
    """
    from spectral_cli.cli.progress import RichObserver
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.pipeline import (
        resolve_train_config,
        resume_train_config,
        run_experiment,
    )
    from spectral_cli.core.runs import prepare_run_dir
    from spectral_cli.core.signals import StopFlag, catch_signals

    set_ = list(set_) + family_flags(
        init=init, window=window, baseline=baseline, compare=compare, data_dir=data_dir
    )
    dev = resolve_device(device)
    existed = True  # a resumed run directory is never removed
    if resume:
        if config is not None:
            typer.echo(
                "note: --config is ignored with --resume (the run's saved config is used)", err=True
            )
        run_dir = prepare_run_dir(out, "train", family, overwrite=overwrite, resume=True)
        cfg = resume_train_config(run_dir, family, set_, seed)
    else:
        cfg = resolve_train_config(family, config, set_, seed)
        existed = out is not None and out.exists()
        run_dir = prepare_run_dir(out, "train", family, overwrite=overwrite)
    with (
        remove_if_left_empty(run_dir, enabled=not existed),
        RichObserver(quiet=quiet, verbose=verbose, total_epochs=cfg.train.epochs) as observer,
    ):
        observer.log(f"training {family} on {dev} (seed {cfg.seed}) -> {run_dir}")
        with catch_signals(StopFlag()) as stop:
            report = run_experiment(cfg, run_dir, dev, resume=resume, observer=observer, stop=stop)
    if json_:
        typer.echo(report.model_dump_json(indent=2))
    elif not quiet:
        typer.echo(f"{report.summary()} -> {run_dir}")


@contextlib.contextmanager
def remove_if_left_empty(run_dir: Path, enabled: bool) -> Iterator[None]:
    """A run that fails before writing anything (e.g. bad data) leaves no new empty directory."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            if enabled and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()
        raise


FLAG_KEYS = {
    "init": "model.init",
    "window": "model.window",
    "baseline": "model.baseline",
    "compare": "train.compare",
    "data_dir": "data.dir",
}


def family_flags(**values: object) -> list[str]:
    """Translate the family options into ``--set`` items (unknown keys fail validation)."""
    items = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        items.append(f"{FLAG_KEYS[name]}={'true' if value is True else value}")
    return items
