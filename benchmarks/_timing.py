"""Timing helper shared by the benchmark scripts (run them as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import NoReturn

SKIP = 77  # exit status of a benchmark that cannot run here (a missing optional package)


def add_smoke_flag(parser: argparse.ArgumentParser) -> None:
    """``--smoke``: tiny sizes and one repeat, so the script runs end to end in seconds (the test
    suite runs every benchmark this way); its timings mean nothing."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, one repeat: a run check, not a measurement",
    )


def skip(reason: str) -> NoReturn:
    """Exit with :data:`SKIP` and the reason on stderr: something optional is missing here."""
    print(f"skip: {reason}", file=sys.stderr, flush=True)
    raise SystemExit(SKIP)


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` calls after one warm-up call. The machines here are shared: the
    minimum is the least disturbed measurement, and every contender is measured the same way."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def alternating_samples(
    fns: dict[str, Callable[[], object]], repeats: int
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of each call, calling the contenders in turn ``repeats`` times (after
    two warm-up calls each), so machine noise hits all of them alike. CPU time (this process)
    leaves out the time other jobs on a shared machine take the core away."""
    for fn in fns.values():  # warm-up
        fn()
        fn()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            samples[name].append((time.perf_counter() - t0, time.process_time() - c0))
    return samples


def time_alternating(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each contender, measured by :func:`alternating_samples`."""
    samples = alternating_samples(fns, repeats)
    return {name: statistics.median(w for w, _ in v) for name, v in samples.items()}
