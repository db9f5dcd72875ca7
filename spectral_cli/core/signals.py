"""Cooperative interruption: SIGINT/SIGTERM set a flag the training loop checks between steps.

The loop then saves its state and raises :class:`~spectral_cli.core.errors.Interrupted` (exit 130),
so ``--resume`` continues exactly where it stopped. A second signal while saving is ignored.
"""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def catch_signals(flag: StopFlag) -> Iterator[StopFlag]:
    """Route SIGINT and SIGTERM to ``flag`` for the duration of the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        flag.request(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
