"""``spectral tune FAMILY [FAMILY ...]``: parse options, call :mod:`spectral_cli.tuning.run`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from spectral_cli.cli.options import Shared, shared_options
from spectral_cli.cli.output import emit
from spectral_cli.core.registry import family_names
from spectral_cli.tuning.settings import PrunerKind, SamplerKind

if TYPE_CHECKING:
    from spectral_cli.tuning.trials import TrialEvent


class RichTrialProgress:
    """Trial k/N and best-so-far on stderr."""

    def __init__(self, quiet: bool) -> None:
        from spectral_cli.cli.output import stderr_console

        self.console = stderr_console()
        self.quiet = quiet

    def trial_done(self, event: TrialEvent) -> None:
        if not self.quiet:
            self.console.print(event.line())


@shared_options(
    resume=True,
    seed_help="Seed of the sampler, the trials and the first final run (default 0).",
    resume_help="Continue the study stored in --out (adds --trials trials).",
)
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
    sampler: SamplerKind = typer.Option(
        SamplerKind.TPE, "--sampler", help="tpe (seeded) | random."
    ),
    pruner: PrunerKind = typer.Option(PrunerKind.MEDIAN, "--pruner", help="median | none."),
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
    *,
    shared: Shared,
) -> None:
    """Tune families with Optuna and compare their best configurations over several seeds.

    Example: spectral tune standard factorized hpe --trials 8 --final-seeds 5 --out runs/tune
    """
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.errors import BadInput
    from spectral_cli.core.runs import default_run_dir
    from spectral_cli.core.signals import StopFlag, catch_signals
    from spectral_cli.tuning.run import tune_run
    from spectral_cli.tuning.settings import TuneSettings

    resolve_device(shared.device)
    if shared.resume and shared.out is None:
        raise BadInput("--resume needs --out DIR pointing at the earlier tuning run")
    settings = TuneSettings(
        families=tuple(families),
        out=shared.out or default_run_dir("tune", "-".join(families)),
        storage=storage or "",
        study_name=study_name,
        trials=trials,
        timeout=timeout,
        seed=0 if shared.seed is None else shared.seed,
        sampler=sampler.value,
        pruner=pruner.value,
        space_file=space,
        config_file=shared.config,
        sets=shared.sets,
        final_seeds=final_seeds,
        workers=workers,
        device=shared.device,
        quiet=shared.quiet,
    )
    with catch_signals(StopFlag()) as stop:
        report = tune_run(
            settings,
            RichTrialProgress(shared.quiet),
            stop,
            overwrite=shared.overwrite,
            resume=shared.resume,
        )
    emit(shared, report, f"{report.summary()} -> {settings.out}/comparison.md")
