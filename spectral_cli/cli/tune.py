"""``spectral tune FAMILY [FAMILY ...]``: parse options, call :mod:`spectral_cli.tuning.run`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from spectral_cli.cli import options

if TYPE_CHECKING:
    from spectral_cli.tuning.trials import TrialEvent


class RichTrialProgress:
    """Trial k/N and best-so-far on stderr."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self.quiet = quiet

    def trial_done(self, event: TrialEvent) -> None:
        if not self.quiet:
            self.console.print(event.line())


def tune(
    families: list[str] = typer.Argument(
        ..., help="Families to tune, e.g. standard factorized hpe."
    ),
    trials: int = typer.Option(
        8, "--trials", help="Trials per family (added to an existing study)."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", help="Per family and worker: start no new trial after SECONDS."
    ),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe (seeded) | random."),
    pruner: str = typer.Option("median", "--pruner", help="median | none."),
    space: Path | None = typer.Option(
        None, "--space", help="YAML search space overriding the declared one."
    ),
    final_seeds: int = typer.Option(
        5, "--final-seeds", help="Seeds for the final test evaluation."
    ),
    storage: str | None = typer.Option(
        None, "--storage", help="Optuna storage URL (default: SQLite in --out)."
    ),
    study_name: str = typer.Option(
        "spectral", "--study-name", help="Study name prefix; one study per family."
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes sharing the storage."),
    config: Path | None = options.CONFIG,
    set_: list[str] = options.SET,
    device: str = options.DEVICE,
    seed: int = typer.Option(
        0, "--seed", help="Seed of the sampler, the trials and the first final run."
    ),
    out: Path | None = options.OUT,
    json_: bool = options.JSON,
    quiet: bool = options.QUIET,
    verbose: bool = options.VERBOSE,
    overwrite: bool = options.OVERWRITE,
    resume: bool = typer.Option(False, "--resume", help="Continue the study stored in --out."),
) -> None:
    """Tune families with Optuna and compare their best configurations over several seeds.

    Example: spectral tune standard factorized hpe --trials 8 --final-seeds 5 --out runs/tune
    """
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.errors import BadInput
    from spectral_cli.core.runs import default_run_dir
    from spectral_cli.core.signals import StopFlag, catch_signals
    from spectral_cli.tuning.run import tune_run
    from spectral_cli.tuning.trials import TuneSettings

    resolve_device(device)
    if resume and out is None:
        raise BadInput("--resume needs --out DIR pointing at the earlier tuning run")
    settings = TuneSettings(
        families=tuple(families),
        out=out or default_run_dir("tune", "-".join(families)),
        storage=storage or "",
        study_name=study_name,
        trials=trials,
        timeout=timeout,
        seed=seed,
        sampler=sampler,
        pruner=pruner,
        space_file=space,
        config_file=config,
        sets=tuple(set_),
        final_seeds=final_seeds,
        workers=workers,
        device=device,
        quiet=quiet,
    )
    del verbose
    with catch_signals(StopFlag()) as stop:
        report = tune_run(
            settings, RichTrialProgress(quiet), stop, overwrite=overwrite, resume=resume
        )
    if json_:
        typer.echo(report.model_dump_json(indent=2))
    elif not quiet:
        typer.echo(f"{report.summary()} -> {settings.out}/comparison.md")
