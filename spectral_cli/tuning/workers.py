"""Worker processes: a study's trials spread over spawned processes sharing one storage.

:func:`join_processes` is the plumbing the final runs use as well (:mod:`.final`); a worker that
dies leaves its RUNNING trials to :func:`~spectral_cli.tuning.recovery.fail_orphaned_trials`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from spectral_cli.core.signals import StopFlag, catch_signals
from spectral_cli.tuning.recovery import die_with_parent, fail_orphaned_trials
from spectral_cli.tuning.settings import TuneSettings
from spectral_cli.tuning.trials import run_trials


def limit_threads(settings: TuneSettings) -> None:
    """In a worker process: its share of the CPU cores for torch's intra-op threads."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(settings.workers, 1)))


def worker_main(settings: TuneSettings, family: str, n_trials: int, worker: int) -> None:
    """Entry point of a spawned worker process."""
    die_with_parent()
    limit_threads(settings)
    with catch_signals(StopFlag()) as stop:
        run_trials(settings, family, n_trials, worker, stop=stop)


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
