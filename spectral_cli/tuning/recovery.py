"""What lets ``spectral tune`` recover exactly: safe study names, no phantom RUNNING trials,
earlier families kept on a partial ``--resume``, and workers that die with their parent."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
from pathlib import Path
from typing import Any

from spectral_cli.core.arrays import parse_json
from spectral_cli.core.errors import BadInput
from spectral_cli.core.runs import RunDir
from spectral_cli.tuning.settings import TuneSettings

STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate_study_name(name: str) -> None:
    """A study name becomes a directory under ``--out/trials``: letters, digits, ``_ . -``."""
    if not STUDY_NAME.match(name) or ".." in name:
        raise BadInput(
            f"--study-name {name!r} is not a safe name; use 1-64 letters, digits, '_', '.' or "
            "'-' (starting with a letter or digit, no '..')"
        )


def trial_owner() -> dict[str, Any]:
    """The user attributes that identify the process running a trial: its pid, the host name,
    and ``pid_space`` (the kernel boot and pid namespace), without which two machines or
    containers with one host name (a shared study) could mistake each other's pids."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "pid_space": _pid_space()}


def _pid_space() -> str:
    """Where a pid means this process: the kernel's boot id and this pid namespace ('' when
    unreadable, e.g. not Linux)."""
    parts = []
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return "/".join(parts)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_trials(study: Any, starting: bool = False) -> list[int]:
    """Mark RUNNING trials of processes on this host that no longer exist as FAIL.

    A process on another host (a shared PostgreSQL study) is left to Optuna's heartbeat: its
    trials are failed here once their last heartbeat is older than the grace period.
    ``starting``: this process has run no trial yet, so a RUNNING trial with its own pid is a
    leftover of a dead process whose pid was reused.
    """
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # dead workers on any machine, by heartbeat
    host, space, failed = socket.gethostname(), _pid_space(), []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        pid, attrs = trial.user_attrs.get("pid"), trial.user_attrs
        if not isinstance(pid, int) or attrs.get("host", host) != host:
            continue
        if attrs.get("pid_space", space) != space:  # same host name, another machine/container
            continue
        if ((starting and pid == os.getpid()) or not _alive(pid)) and fail_trial(study, trial):
            failed.append(trial.number)
    return failed


def fail_trial(study: Any, trial: Any) -> bool:
    """Mark a RUNNING trial FAIL through Optuna's public ``Study.tell``; False when it finished
    in the meantime (its worker told its own result first: that result stands)."""
    import optuna

    state = optuna.trial.TrialState.FAIL
    try:
        return study.tell(trial.number, state=state, skip_if_finished=True).state == state
    except optuna.exceptions.UpdateFinishedTrialError:  # finished between tell's check and write
        return False


def _load(settings: TuneSettings, family: str) -> Any:
    import optuna

    from spectral_cli.tuning.study import open_storage, study_name

    storage = open_storage(settings.storage)
    return optuna.load_study(study_name=study_name(settings.study_name, family), storage=storage)


def fail_orphaned_trials(settings: TuneSettings, family: str, pids: set[int]) -> None:
    """Mark RUNNING trials of worker processes that died (killed, crashed) as FAIL."""
    import optuna

    study = _load(settings, family)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial.user_attrs.get("pid") in pids:
            fail_trial(study, trial)


def trials_of(settings: TuneSettings, family: str, pids: set[int]) -> list[Any]:
    """The family's trials (any state) that processes ``pids`` of this host ran."""
    host = socket.gethostname()
    return [
        t
        for t in _load(settings, family).get_trials(deepcopy=False)
        if t.user_attrs.get("pid") in pids and t.user_attrs.get("host", host) == host
    ]


def earlier_results(out: Path, families: tuple[str, ...]) -> dict[str, Any]:
    """Results of families tuned earlier in ``out`` and not tuned now (from its report.json)."""
    from spectral_cli.tuning.report import FamilyResult

    path = out / RunDir.REPORT
    if not path.is_file():
        return {}
    what = f"--resume: {path} is not a readable tune report"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise BadInput(what) from None
    try:  # the project's parser: deep nesting is bad input, not a RecursionError
        earlier = parse_json(text, f"--resume: {path}").get("families", {})
        return {
            name: FamilyResult.model_validate(res)
            for name, res in earlier.items()
            if name not in families
        }
    except (ValueError, AttributeError):
        raise BadInput(what) from None


def die_with_parent() -> None:
    """In a worker process: get SIGTERM when the parent dies (Linux), and leave Ctrl-C to the
    parent, which forwards a stop to its workers (one message, no worker tracebacks)."""
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent or parent == 1:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
