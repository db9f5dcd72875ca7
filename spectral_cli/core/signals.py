"""Cooperative interruption: SIGINT/SIGTERM set a flag the training loop checks between steps.

The loop then saves its state and raises :class:`~spectral_cli.core.errors.Interrupted` (exit 130),
so ``--resume`` continues exactly where it stopped. A second signal while saving is ignored.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType, ModuleType
from typing import Any


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
    of a command, before any run has a :class:`StopFlag` to set, and hold both signals while
    torch loads, wherever it is first imported (main thread only; repeated calls are no-ops)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        hold_signals_while_importing("torch")


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT/SIGTERM deferred for the block: recorded, then raised again when it ends.

    Why: the early handler raises ``KeyboardInterrupt`` wherever Python happens to be; inside
    Python code that an extension's C++ initializer calls (pybind11, during ``import torch``),
    that exception cannot unwind through the C++ frames and the process aborts (SIGABRT,
    "terminate called after throwing pybind11::error_already_set") or the signal is lost, instead
    of exit 130: CI saw it for a SIGTERM one second into ``spectral train``. In the block a
    handler that only records the signal replaces the installed ones; afterwards those are back
    and each recorded signal is raised once, so it ends the command as it would have. (Blocking
    the signal with ``pthread_sigmask`` is not enough: the kernel then delivers it to another
    thread, and Python still runs the handler in the main thread.) Main thread only; elsewhere,
    and for a handler not installed from Python, the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    previous = {sig: old for sig, old in previous.items() if old is not None}
    for sig in previous:
        signal.signal(sig, lambda signum, _frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)


def import_holding_signals(*modules: str) -> None:
    """Import ``modules`` now, with the signals held (:func:`signals_held`)."""
    with signals_held():
        for name in modules:
            importlib.import_module(name)


class _HeldLoader(importlib.abc.Loader):
    """The module's own loader, executing it with the signals held."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:  # resource readers, get_filename, ...
        return getattr(self._inner, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with signals_held():
            self._inner.exec_module(module)


class _HoldWhileLoading(importlib.abc.MetaPathFinder):
    """Finds ``names`` as the path finder does and loads them with :class:`_HeldLoader`."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _HeldLoader(spec.loader)
        return spec


def hold_signals_while_importing(*names: str) -> None:
    """From now on, the first import of each of ``names`` -- wherever it happens, lazily inside a
    command or not at all (``--help``, ``--print-config``, early bad input) -- runs with the
    signals held (:func:`signals_held`). Installed once per process, first on ``sys.meta_path``.
    """
    if not any(isinstance(f, _HoldWhileLoading) and f.names >= set(names) for f in sys.meta_path):
        sys.meta_path.insert(0, _HoldWhileLoading(names))


@contextlib.contextmanager
def catch_signals(flag: StopFlag, redeliver: bool = True) -> Iterator[StopFlag]:
    """Route SIGINT and SIGTERM to ``flag`` for the duration of the block (main thread only).

    A signal that came too late for the code in the block to act on (the block ends without an
    exception, e.g. the run had just written its report) is raised again after the previous
    handlers are back (``redeliver``), so it still ends the command as an interruption (exit
    130) instead of being lost. Worker processes that stop cleanly on the flag pass False.
    """
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        flag.request(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield flag
    except BaseException:
        received.clear()  # the block acted on it (or failed): nothing to deliver again
        raise
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if redeliver and received:
        signal.raise_signal(received[0])
