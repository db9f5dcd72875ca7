"""Worker processes: a study's trials spread over spawned processes sharing one storage.

:func:`join_processes` is the plumbing the final runs use as well (:mod:`.final`). A trial worker
that dies (killed, crashed) has its RUNNING trial failed
(:func:`~spectral_cli.tuning.recovery.fail_orphaned_trials`) and is started again for the trials
of its share that never ran, so the study gets the requested count; when that is not possible
(it dies again) the command says so and exits 3. A worker that fails on its own (the storage
failed, bad input) sends its one error line to the parent, which stops the others and reports it
once: no worker tracebacks.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from spectral_cli.core.credentials import mask_credentials
from spectral_cli.core.errors import BadInput, RuntimeFailure, SpectralError
from spectral_cli.core.signals import StopFlag, catch_signals
from spectral_cli.tuning.failures import storage_errors
from spectral_cli.tuning.recovery import die_with_parent, fail_orphaned_trials, trials_of
from spectral_cli.tuning.settings import TuneSettings
from spectral_cli.tuning.trials import run_trials

RESTARTS_PER_WORKER = 2  # a worker that dies more often than this dies for a reason


def limit_threads(settings: TuneSettings) -> None:
    """In a worker process: its share of the CPU cores for torch's intra-op threads."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(settings.workers, 1)))


def worker_main(settings: TuneSettings, family: str, n_trials: int, worker: int, conn: Any) -> None:
    """Entry point of a spawned worker process; a failure goes to the parent through ``conn``
    as (exit code, message) and is the worker's exit code."""
    die_with_parent()
    try:
        limit_threads(settings)
        with catch_signals(StopFlag(), redeliver=False) as stop:
            run_trials(settings, family, n_trials, worker, stop=stop)
    except SpectralError as exc:
        conn.send((exc.exit_code, str(exc)))
        sys.exit(exc.exit_code)
    except Exception as exc:  # the parent prints it, once
        conn.send((3, f"{type(exc).__name__}: {exc}"))
        sys.exit(3)


def start_processes(targets: list[tuple[Any, tuple[Any, ...]]]) -> list[Any]:
    """Start spawned processes with SIGINT ignored (:func:`join_processes` says why)."""
    import multiprocessing as mp

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
    return procs


def join_processes(targets: list[tuple[Any, tuple[Any, ...]]], stop: StopFlag) -> list[Any]:
    """Start spawned processes, forward a stop request as SIGTERM, wait for all of them.

    The processes start with SIGINT ignored (an ignored signal stays ignored across exec, and
    Python then installs no KeyboardInterrupt handler): Ctrl-C goes to the whole foreground
    group, and a worker still unpickling its task or importing torch would print a traceback or
    abort in torch's C++ initializers. The parent alone handles it and stops them with SIGTERM.
    A Ctrl-C during the few milliseconds of the starts is lost with them.
    """
    procs = start_processes(targets)
    forwarded = False
    while any(p.is_alive() for p in procs):
        if stop.requested and not forwarded:
            terminate(procs)
            forwarded = True
        time.sleep(0.2)
    for p in procs:
        p.join()
    return procs


def terminate(procs: list[Any]) -> None:
    """SIGTERM, once per process: the worker fails its running trial and stops."""
    for p in procs:
        if p.is_alive() and not getattr(p, "spectral_terminated", False):
            p.spectral_terminated = True
            p.terminate()


def how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


@dataclass
class Slot:
    """One worker's share of the trials and the processes that ran it (restarts included)."""

    index: int
    share: int
    proc: Any = None
    conn: Any = None
    pids: set[int] = field(default_factory=set)
    restarts: int = 0

    def start(self, settings: TuneSettings, family: str, n_trials: int) -> None:
        import multiprocessing as mp

        reader, writer = mp.get_context("spawn").Pipe(duplex=False)
        args = (settings, family, n_trials, self.index, writer)
        (self.proc,) = start_processes([(worker_main, args)])
        writer.close()  # the child holds its end
        self.conn = reader
        self.pids.add(self.proc.pid)

    def failure(self) -> tuple[int, str] | None:
        """The (exit code, message) the ended worker sent, if any."""
        try:
            return self.conn.recv() if self.conn.poll() else None
        except (EOFError, OSError):
            return None


def run_workers(settings: TuneSettings, family: str, stop: StopFlag) -> None:
    """Run ``settings.trials`` trials over ``settings.workers`` spawned processes sharing the
    storage; a worker that dies is started again for its trials that never ran."""
    shares = [
        settings.trials // settings.workers + (i < settings.trials % settings.workers)
        for i in range(settings.workers)
    ]
    slots = [Slot(i, n) for i, n in enumerate(shares) if n > 0]
    started = time.monotonic()
    for slot in slots:
        slot.start(settings, family, slot.share)
    running, lost = list(slots), list[str]()
    failure: tuple[int, str] | None = None
    while running:
        if stop.requested or failure is not None:
            terminate([s.proc for s in running])
        for slot in [s for s in running if not s.proc.is_alive()]:
            slot.proc.join()
            running.remove(slot)
            if slot.proc.exitcode == 0:
                continue
            sent = slot.failure()
            try:
                with storage_errors(settings.storage):
                    fail_orphaned_trials(settings, family, {slot.proc.pid})
                    if (
                        sent is None
                        and not stop.requested
                        and failure is None
                        and restart(settings, family, slot, time.monotonic() - started, lost)
                    ):
                        running.append(slot)
            except SpectralError as exc:
                sent = sent or (exc.exit_code, str(exc))
            failure = failure or sent  # the first worker failure is the one reported
        time.sleep(0.2)
    if stop.requested:
        return  # the caller reports the stop
    if failure is not None:
        code, message = failure
        raise (BadInput if code == 2 else RuntimeFailure)(message)
    if lost:
        raise RuntimeFailure(
            f"{'; '.join(lost)}; the finished trials are kept in "
            f"{mask_credentials(settings.storage)}; `--resume --trials N` adds the missing ones"
        )


def restart(
    settings: TuneSettings, family: str, slot: Slot, elapsed: float, lost: list[str]
) -> bool:
    """Start a dead worker again for the trials of its share that never ran (False: none left,
    its ``--timeout`` is over, or it died too often: then ``lost`` says so)."""
    from dataclasses import replace

    missing = slot.share - len(trials_of(settings, family, slot.pids))
    left = None if settings.timeout is None else settings.timeout - elapsed
    if missing <= 0 or (left is not None and left <= 0):
        return False
    what = f"worker {slot.index} of {family} ({how_it_ended(slot.proc.exitcode)})"
    if slot.restarts >= RESTARTS_PER_WORKER:
        lost.append(f"{what}: {missing} of its {slot.share} trials did not run")
        return False
    slot.restarts += 1
    if not settings.quiet:
        sys.stderr.write(f"note: {what} died; starting it again for its {missing} trials left\n")
    slot.start(settings if left is None else replace(settings, timeout=left), family, missing)
    return True
