"""A storage that fails during a study (the database stopped, its file went bad): one error line
and exit 3, the running trial failed where the storage still takes it, no tracebacks.

Optuna would otherwise log each failed trial with its traceback, its heartbeat thread would
print another, and a failure while it records a trial's result surfaces as an
``UnboundLocalError`` ('updated_state') from inside ``Study.optimize``: the storage error is
found in the exception's chain instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from spectral_cli.core.credentials import mask_credentials
from spectral_cli.core.errors import RuntimeFailure, SpectralError
from spectral_cli.tuning.study import StorageUnavailable


def storage_cause(exc: BaseException | None) -> BaseException | None:
    """The storage error in ``exc``'s chain (causes and contexts), or None."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (SQLAlchemyError, StorageInternalError)):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


class _DropStorageFailures(logging.Filter):
    """Drops Optuna's 'Trial N failed' records whose exception is a storage error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return storage_cause(exc) is None


@contextlib.contextmanager
def storage_errors(url: str, study: Any = None) -> Iterator[None]:
    """A storage failure in the block is one :class:`RuntimeFailure` (exit 3) naming the
    storage (masked); ``study``: this process's RUNNING trials in it are failed first, where the
    storage allows. Optuna's log records and the heartbeat thread's traceback for it are
    dropped (the failure is reported once, by the caller)."""
    optimize_log = logging.getLogger("optuna.study._optimize")
    drop = _DropStorageFailures()
    optimize_log.addFilter(drop)
    previous_hook = threading.excepthook

    def hook(args: Any) -> None:
        if storage_cause(args.exc_value) is None:
            previous_hook(args)

    threading.excepthook = hook
    try:
        yield
    except StorageUnavailable as exc:
        raise failed(url, exc.reason) from None
    except SpectralError:
        raise
    except Exception as exc:
        cause = storage_cause(exc)
        if cause is None:
            raise
        if study is not None:
            fail_own_running(study)
        raise failed(url, first_line(cause)) from None
    finally:
        optimize_log.removeFilter(drop)
        threading.excepthook = previous_hook


def failed(url: str, reason: str) -> RuntimeFailure:
    return RuntimeFailure(
        f"the storage {mask_credentials(url)} failed during the study ({reason}); "
        "the trials it recorded are kept; rerun with --resume once it works again"
    )


def fail_own_running(study: Any) -> None:
    """Mark this process's RUNNING trials FAIL, if the storage still answers."""
    import optuna

    from spectral_cli.tuning.recovery import fail_trial

    with contextlib.suppress(Exception):
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if trial.user_attrs.get("pid") == os.getpid():
                fail_trial(study, trial)
