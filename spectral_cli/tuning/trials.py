"""One worker's share of a study: the Optuna objective around ``run_experiment``.

A trial trains the family with the sampled parameters layered over the family preset, the user's
``--config`` and every ``--set`` (so ``--set train.epochs=5`` applies to all trials), reports the
family's selection metric (e.g. ``val_acc``, or ``val_loss`` for the autoencoder and the LSTM)
after every epoch (the pruner may stop it), never evaluates the test split, and returns that
metric of the weights the family keeps. A trial that raises is recorded as FAIL and the study
goes on; a stop request (SIGINT/SIGTERM) fails the running trial and stops the study.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Protocol

from spectral_cli.core.signals import StopFlag
from spectral_cli.tuning.failures import storage_errors
from spectral_cli.tuning.recovery import trial_owner
from spectral_cli.tuning.settings import TuneSettings, trial_config


@dataclass(frozen=True)
class TrialEvent:
    """A finished trial, as progress sinks see it."""

    family: str
    number: int
    state: str
    value: float | None
    best: float | None
    done: int  # trials finished by this worker in this invocation
    total: int  # trials this worker was asked for

    def line(self) -> str:
        val = "-" if self.value is None else f"{self.value:.4f}"
        top = "-" if self.best is None else f"{self.best:.4f}"
        return (
            f"{self.family}: trial {self.done}/{self.total} (#{self.number}) "
            f"{self.state.lower()} val {val}, best {top}"
        )


class TrialProgress(Protocol):
    def trial_done(self, event: TrialEvent) -> None: ...


class PlainProgress:
    """Progress of a worker process: one plain line per trial on stderr."""

    def __init__(self, quiet: bool, worker: int) -> None:
        self.quiet, self.worker = quiet, worker

    def trial_done(self, event: TrialEvent) -> None:
        if not self.quiet:
            sys.stderr.write(f"[worker {self.worker}] {event.line()}\n")


class PruningObserver:
    """Trainer observer that reports each epoch's selection metric to the trial."""

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial, self.metric = trial, metric

    def log(self, message: str) -> None:
        pass

    def on_step(self, epoch: int, step: int, steps: int) -> None:
        pass

    def on_epoch(self, record: dict[str, float], improved: bool) -> None:
        import optuna

        self.trial.report(record[self.metric], int(record["epoch"]))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {int(record['epoch'])}")


def make_objective(settings: TuneSettings, family: str, stop: StopFlag) -> Any:
    from spectral_cli.core.device import resolve_device
    from spectral_cli.core.pipeline import train_into
    from spectral_cli.core.registry import get_family
    from spectral_cli.tuning.space import load_space
    from spectral_cli.tuning.study import study_name

    space = load_space(family, settings.space_file)
    metric = get_family(family).select.name
    device = resolve_device(settings.device)

    def objective(trial: Any) -> float:
        params = {key: spec.suggest(trial, key) for key, spec in space.items()}
        cfg = trial_config(settings, family, params, settings.seed)
        study_dir = study_name(settings.study_name, family)
        run_dir = settings.out / "trials" / study_dir / f"trial-{trial.number:04d}"
        for key, value in trial_owner().items():
            trial.set_user_attr(key, value)
        trial.set_user_attr("run_dir", str(run_dir))
        report = train_into(
            cfg,
            run_dir,
            device,
            mode="overwrite",
            command="tune",
            observer=PruningObserver(trial, metric),
            stop=stop,
            evaluate_test=False,
            plots_enabled=False,
            loggers=settings.loggers,
        )
        assert report is not None  # mode="overwrite" always trains
        trial.set_user_attr("params_total", report.params.total)
        trial.set_user_attr("best_epoch", report.selection.best_epoch)
        return report.selection.kept_value(report.history)

    return objective


def run_trials(
    settings: TuneSettings,
    family: str,
    n_trials: int,
    worker: int,
    progress: TrialProgress | None = None,
    stop: StopFlag | None = None,
) -> None:
    """Add ``n_trials`` trials to the family's study (in this process)."""
    from spectral_cli.tuning.study import (
        make_pruner,
        make_sampler,
        open_storage,
        open_study,
        quiet_optuna,
        study_name,
    )

    quiet_optuna("ERROR" if settings.quiet else "WARNING")
    stop = stop or StopFlag()
    progress = progress or PlainProgress(settings.quiet, worker)
    name = study_name(settings.study_name, family)
    with storage_errors(settings.storage):
        storage = open_storage(settings.storage)
        study = open_study(
            storage, name, family, None, make_pruner(settings.pruner), list(settings.sets)
        )
        # a continued study gets fresh sampler randomness; each worker its own stream
        offset = len(study.trials) + 100_003 * worker
        study.sampler = make_sampler(settings.sampler, settings.seed + offset, settings.trials)
    done = 0

    def callback(st: Any, trial: Any) -> None:
        nonlocal done
        done += 1
        try:
            best = st.best_value
        except ValueError:
            best = None
        event = TrialEvent(
            family, trial.number, trial.state.name, trial.value, best, done, n_trials
        )
        progress.trial_done(event)
        if stop.requested:
            st.stop()

    with storage_errors(settings.storage, study):
        study.optimize(
            make_objective(settings, family, stop),
            n_trials=n_trials,
            timeout=settings.timeout,
            catch=(Exception,),
            callbacks=[callback],
            gc_after_trial=False,
        )
