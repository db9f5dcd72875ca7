"""Seconds per phase of a command, for the ``timing`` section of its report.

Phases nest and are **exclusive**: time spent in an inner phase (kernels computed inside the
sweep) counts for the inner phase only, so the phases add up to at most the wall time and
``other`` is the rest (set-up, bookkeeping)::

    timer = PhaseTimer()
    with timer("kernels"):
        ...
    timer.report()  # {"kernels": 1.2, ..., "other": 0.01, "total": 1.3}

On CUDA the device is synchronized at every phase boundary, so asynchronous kernels are charged
to the phase that launched them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch


class PhaseTimer:
    """Accumulates exclusive seconds per named phase from its creation on."""

    def __init__(self, device: torch.device | None = None) -> None:
        self._cuda = device is not None and device.type == "cuda"
        self._started = self._mark = time.perf_counter()
        self._stack: list[str] = []
        self.seconds: dict[str, float] = {}

    def _switch(self) -> None:
        """Charge the time since the last boundary to the phase on top of the stack."""
        if self._cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        if self._stack:
            name = self._stack[-1]
            self.seconds[name] = self.seconds.get(name, 0.0) + now - self._mark
        self._mark = now

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self._switch()
        self._stack.append(name)
        self.seconds.setdefault(name, 0.0)
        try:
            yield
        finally:
            self._switch()
            self._stack.pop()

    def report(self) -> dict[str, float]:
        """Seconds per phase (in first-use order), ``other`` and ``total`` (wall) so far."""
        total = time.perf_counter() - self._started
        out = dict(self.seconds)
        out["other"] = max(0.0, total - sum(self.seconds.values()))
        out["total"] = total
        return out
