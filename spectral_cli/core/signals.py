"""Cooperative interruption: SIGINT/SIGTERM set a flag the training loop checks between steps.

The loop then saves its state and raises :class:`~spectral_cli.core.errors.Interrupted` (exit 130),
so ``--resume`` continues exactly where it stopped. A second signal while saving is ignored.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class StopFlag:
    """Set by a signal handler (or a test); read by the training loop."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def request(self, name: str = "stop") -> None:
        if self.signal_name is None:
            self.signal_name = name


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install_early_handlers() -> None:
    """Make SIGTERM behave like SIGINT (a ``KeyboardInterrupt``, exit 130) from the first line
    of a command, before any run has a :class:`StopFlag` to set (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def import_holding_signals(*modules: str) -> None:
    """Import C++-extension modules (torch) with SIGINT/SIGTERM held pending until they loaded.

    The early handler raises ``KeyboardInterrupt`` wherever Python happens to be; inside Python
    code that an extension's C++ initializer calls (pybind11), that exception cannot unwind
    through the C++ frames and the process aborts (SIGABRT, "terminate called after throwing
    pybind11::error_already_set") instead of exiting 130: CI saw it for a SIGTERM one second
    into ``spectral train``. Blocked, the signal stays pending and is delivered (exit 130) the
    moment the import returns. Threads the import starts inherit the blocked mask, so later
    signals still reach the main thread. Main thread only; elsewhere a plain import.
    """
    block = threading.current_thread() is threading.main_thread() and hasattr(
        signal, "pthread_sigmask")
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS) if block else None
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def catch_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """Route SIGINT and SIGTERM to ``flag`` for the duration of the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        flag.request(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
