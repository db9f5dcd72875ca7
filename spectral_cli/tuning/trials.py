"""One worker's share of a study: the Optuna objective around ``run_experiment``.

A trial trains the family with the sampled parameters layered over the family preset, the user's
``--config`` and every ``--set`` (so ``--set train.epochs=5`` applies to all trials), reports the
family's selection metric (e.g. ``val_acc``, or ``val_loss`` for the autoencoder and the LSTM)
after every epoch (the pruner may stop it), never evaluates the test split, and returns that
metric of the weights the family keeps. A trial that raises is recorded as FAIL and the study
goes on; a stop request (SIGINT/SIGTERM) fails the running trial and stops the study.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from spectral_cli.core.errors import SpectralError
from spectral_cli.core.signals import StopFlag, catch_signals
from spectral_cli.tuning.recovery import die_with_parent, trial_owner


@dataclass(frozen=True)
class TuneSettings:
    """Everything a worker process needs (picklable: only plain values)."""

    families: tuple[str, ...]
    out: Path
    storage: str
    study_name: str = "spectral"
    trials: int = 8
    timeout: float | None = None
    seed: int = 0
    sampler: str = "tpe"
    pruner: str = "median"
    space_file: Path | None = None
    config_file: Path | None = None
    sets: tuple[str, ...] = ()
    final_seeds: int = 5
    workers: int = 1
    device: str = "auto"
    quiet: bool = False


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


def trial_config(settings: TuneSettings, family: str, params: dict[str, Any], seed: int) -> Any:
    from spectral_cli.core.resolve import resolve_train_config
    from spectral_cli.tuning.space import as_sets

    sets = [*settings.sets, *as_sets(params)]
    return resolve_train_config(family, settings.config_file, sets, seed=seed)


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
        )
        assert report is not None  # mode="overwrite" always trains
        trial.set_user_attr("params_total", report.params.total)
        trial.set_user_attr("best_epoch", report.selection.best_epoch)
        return kept_value(report)

    return objective


def kept_value(report: Any) -> float:
    """The selection metric of the weights the run kept (best epoch, or the last one)."""
    sel = report.selection
    if sel.kept == "last" or sel.best_value is None:
        return float(report.history[-1][sel.metric])
    return float(sel.best_value)


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
    storage = open_storage(settings.storage)
    name = study_name(settings.study_name, family)
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

    study.optimize(
        make_objective(settings, family, stop),
        n_trials=n_trials,
        timeout=settings.timeout,
        catch=(Exception,),
        callbacks=[callback],
        gc_after_trial=False,
    )


def worker_main(settings: TuneSettings, family: str, n_trials: int, worker: int) -> None:
    """Entry point of a spawned worker process."""
    import torch

    die_with_parent()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(settings.workers, 1)))
    with catch_signals(StopFlag()) as stop:
        run_trials(settings, family, n_trials, worker, stop=stop)


def final_worker_main(settings: TuneSettings, jobs: list[tuple[str, int, dict[str, Any]]]) -> None:
    """Entry point of a spawned process running some of the final (test-evaluated) runs."""
    import torch

    from spectral_cli.core.device import resolve_device
    from spectral_cli.tuning.final import run_final

    die_with_parent()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(settings.workers, 1)))
    device = resolve_device(settings.device)
    with catch_signals(StopFlag()) as stop:
        try:
            for family, seed, params in jobs:
                run_final(settings, family, seed, params, device, stop)
        except SpectralError as exc:  # the parent reports the missing run; no traceback here
            sys.stderr.write(f"error: {exc}\n")
            sys.exit(exc.exit_code)


def run_final_workers(
    settings: TuneSettings, jobs: list[tuple[str, int, dict[str, Any]]], stop: StopFlag
) -> None:
    """Spread the final runs round-robin over ``settings.workers`` spawned processes."""
    n = min(settings.workers, len(jobs))
    shares = [jobs[i::n] for i in range(n)]
    join_processes([(final_worker_main, (settings, share)) for share in shares if share], stop)


def join_processes(targets: list[tuple[Any, tuple[Any, ...]]], stop: StopFlag) -> list[Any]:
    """Start spawned processes, forward a stop request as SIGTERM, wait for all of them.

    The processes start with SIGINT ignored (an ignored signal stays ignored across exec, and
    Python then installs no KeyboardInterrupt handler): Ctrl-C goes to the whole foreground
    group, and a worker still unpickling its task or importing torch would print a traceback or
    abort in torch's C++ initializers. The parent alone handles it and stops them with SIGTERM.
    A Ctrl-C during the few milliseconds of the starts is lost with them.
    """
    import multiprocessing as mp
    import signal

    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=fn, args=args) for fn, args in targets]
    try:
        parent_handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread, where dispositions cannot change: start as is
        parent_handler = None
    try:
        for p in procs:
            p.start()
    finally:
        if parent_handler is not None:
            signal.signal(signal.SIGINT, parent_handler)
    forwarded = False
    while any(p.is_alive() for p in procs):
        if stop.requested and not forwarded:
            for p in procs:
                if p.is_alive():
                    p.terminate()  # SIGTERM: the worker saves its state and stops
            forwarded = True
        time.sleep(0.2)
    for p in procs:
        p.join()
    return procs


def run_workers(settings: TuneSettings, family: str, stop: StopFlag) -> None:
    """Split ``settings.trials`` over ``settings.workers`` spawned processes sharing the storage."""
    shares = [
        settings.trials // settings.workers + (i < settings.trials % settings.workers)
        for i in range(settings.workers)
    ]
    procs = join_processes(
        [(worker_main, (settings, family, n, i)) for i, n in enumerate(shares) if n > 0], stop
    )
    dead = {p.pid for p in procs if p.exitcode != 0}
    if dead:
        fail_orphaned_trials(settings, family, dead)


def fail_orphaned_trials(settings: TuneSettings, family: str, pids: set[int | None]) -> None:
    """Mark RUNNING trials of worker processes that died (killed, crashed) as FAIL."""
    import optuna

    from spectral_cli.tuning.study import open_storage, study_name

    storage = open_storage(settings.storage)
    study = optuna.load_study(study_name=study_name(settings.study_name, family), storage=storage)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial.user_attrs.get("pid") in pids:
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
