"""``spectral tune FAMILY [FAMILY ...]``: parse options, call :mod:`spectral_cli.tuning.run`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from spectral_cli.cli.options import (
    ConfigOpt,
    DeviceOpt,
    JsonOpt,
    LoggerOpt,
    OutOpt,
    OverwriteOpt,
    PlotsOpt,
    QuietOpt,
    SetOpt,
    Shared,
    ThreadsOpt,
    TuneResumeOpt,
    TuneSeedOpt,
    VerboseOpt,
)
from spectral_cli.cli.output import emit
from spectral_cli.core.registry import family_names
from spectral_cli.tuning.settings import DEFAULTS, PrunerKind, SamplerKind

if TYPE_CHECKING:
    from spectral_cli.tuning.trials import TrialEvent


class RichTrialProgress:
    """Trial k/N and best-so-far on stderr."""

    def __init__(self, quiet: bool) -> None:
        from spectral_cli.cli.output import stderr_console

        self.console = stderr_console()
        self.quiet = quiet

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message)

    def trial_done(self, event: TrialEvent) -> None:
        if not self.quiet:
            self.console.print(event.line())


def tune(
    families: list[str] = typer.Argument(
        ...,
        help="Families to tune, e.g. standard factorized hpe.",
        metavar="FAMILY...",
        autocompletion=family_names,
    ),
    trials: int = typer.Option(
        8, "--trials", help="Trials per family (added to an existing study)."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", help="Per family and worker: start no new trial after SECONDS."
    ),
    sampler: SamplerKind | None = typer.Option(
        None, "--sampler", help="tpe (seeded; default) | random."
    ),
    pruner: PrunerKind | None = typer.Option(None, "--pruner", help="median (default) | none."),
    space: Path | None = typer.Option(
        None, "--space", help="YAML search space overriding the declared one."
    ),
    final_seeds: int | None = typer.Option(
        None, "--final-seeds", help="Seeds for the final test evaluation (default 5)."
    ),
    storage: str | None = typer.Option(
        None, "--storage", help="Optuna storage URL (default: SQLite in --out)."
    ),
    study_name: str | None = typer.Option(
        None, "--study-name", help="Study name prefix; one study per family (default spectral)."
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes sharing the storage."),
    *,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    device: DeviceOpt = "auto",
    seed: TuneSeedOpt = None,
    out: OutOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    overwrite: OverwriteOpt = False,
    resume: TuneResumeOpt = False,
    threads: ThreadsOpt = None,
    logger: LoggerOpt = None,
    plots: PlotsOpt = True,
) -> None:
    """Tune families with Optuna and compare their best configurations over several seeds.

    Example: spectral tune standard factorized hpe --trials 8 --final-seeds 5 --out runs/tune
    """
    shared = Shared.of(locals())
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.errors import BadInput
    from spectral_cli.core.metrics_log import check_loggers
    from spectral_cli.core.plots import figure_format
    from spectral_cli.core.runs import default_run_dir
    from spectral_cli.core.signals import StopFlag, catch_signals
    from spectral_cli.tuning.run import tune_run
    from spectral_cli.tuning.settings import TuneSettings

    resolve_device(shared.device)
    check_loggers(shared.logger)
    if shared.resume and shared.out is None:
        raise BadInput("--resume needs --out DIR pointing at the earlier tuning run")
    settings = TuneSettings(
        families=tuple(families),
        out=shared.out or default_run_dir("tune", "-".join(families)),
        storage=storage or "",
        study_name=DEFAULTS.study_name if study_name is None else study_name,
        trials=trials,
        timeout=timeout,
        seed=DEFAULTS.seed if shared.seed is None else shared.seed,
        sampler=(sampler or SamplerKind.TPE).value,
        pruner=(pruner or PrunerKind.MEDIAN).value,
        space_file=space,
        config_file=shared.config,
        sets=shared.sets,
        final_seeds=DEFAULTS.final_seeds if final_seeds is None else final_seeds,
        workers=workers,
        device=shared.device,
        quiet=shared.quiet,
        loggers=shared.logger,
    )
    typed = {
        "--set": bool(shared.sets),
        "--config": shared.config is not None,
        "--space": space is not None,
        "--sampler": sampler is not None,
        "--pruner": pruner is not None,
        "--final-seeds": final_seeds is not None,
        "--study-name": study_name is not None,
        "--seed": shared.seed is not None,
        "--timeout": timeout is not None,
        "--storage": storage is not None,
    }
    progress = RichTrialProgress(shared.quiet)
    # --no-plots: comparison.png is not written (trials and final runs never draw figures)
    with catch_signals(StopFlag()) as stop, figure_format(enabled=shared.plots):
        report = tune_run(
            settings,
            progress,
            stop,
            overwrite=shared.overwrite,
            resume=shared.resume,
            given={flag for flag, on in typed.items() if on},
            note=progress.note,
        )
    emit(shared, report, f"{report.summary()} -> {settings.out}/comparison.md")
