"""Worker threads for the structured NTK on CPU (one intra-op thread each)."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

# ------------------------------------------------------------------ worker threads (CPU)
#
# torch's intra-op threads synchronize at the end of every operation; on a busy machine one
# descheduled thread stalls the others, and a 128 x 512 x 128 GEMM that takes 0.8 ms on one
# thread took 20 ms on two. The structured NTK splits its work into independent pieces instead
# (row chunks of the forward/backward pass, tiles of the kernel) and runs them on
# ``torch.get_num_threads()`` worker threads, each with one intra-op thread: no barrier per
# operation, and a busy core simply takes fewer pieces.

_POOL: ThreadPoolExecutor | None = None
_POOL_KEY: tuple[int, int] = (0, 0)  # (pid, size): a forked child builds its own pool
_POOL_LOCK = threading.Lock()


@functools.cache
def _per_thread_counts() -> bool:
    """Whether torch's intra-op thread count is per thread (the OpenMP backend), which the
    worker threads need; with the native thread pool it is process-wide."""
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


def cpu_threads() -> int:
    """Worker threads for the structured NTK on the CPU: torch's intra-op thread count."""
    return torch.get_num_threads() if _per_thread_counts() else 1


def _worker_pool(n: int) -> ThreadPoolExecutor:
    """A pool of ``n`` threads whose torch intra-op thread count is 1 (created once)."""
    global _POOL, _POOL_KEY
    with _POOL_LOCK:
        if _POOL is None or (os.getpid(), n) != _POOL_KEY:
            keep = torch.get_num_threads()
            pool = ThreadPoolExecutor(
                n,
                thread_name_prefix="spectral-ntk",
                initializer=torch.set_num_threads,
                initargs=(1,),
            )
            # start all n threads now: the barrier keeps each task until n threads exist
            barrier = threading.Barrier(n)
            for fut in [pool.submit(barrier.wait, 60) for _ in range(n)]:
                fut.result()
            # torch.set_num_threads also sets the default of threads started later: restore it
            # (each worker keeps its own count of 1; this thread's count is unchanged)
            torch.set_num_threads(keep)
            if _POOL is not None and _POOL_KEY[0] == os.getpid():
                _POOL.shutdown(wait=False)
            _POOL, _POOL_KEY = pool, (os.getpid(), n)
        return _POOL


def run_tasks(tasks: Sequence[Callable[[], None]], threads: int) -> None:
    """Run independent ``tasks`` (no autograd) on this thread and ``threads - 1`` helpers.

    Every thread takes the next task when it is done with one, and this thread returns as soon
    as every task is done: a helper that the scheduler wakes late finds nothing left and is not
    waited for. This thread works with one intra-op thread meanwhile (restored after); with
    ``threads <= 1`` or a single task everything runs inline, unchanged.
    """
    if threads <= 1 or len(tasks) <= 1:
        with torch.no_grad():
            for task in tasks:
                task()
        return
    queue = iter(tasks)
    lock = threading.Lock()
    done = threading.Event()
    state = {"left": len(tasks)}
    errors: list[BaseException] = []

    def drain() -> None:
        with torch.no_grad():  # grad mode is per thread
            while True:
                with lock:
                    task = next(queue, None)
                if task is None:
                    return
                try:
                    if not errors:  # after a failure the rest is skipped
                        task()
                except BaseException as exc:  # re-raised by the caller
                    errors.append(exc)
                with lock:
                    state["left"] -= 1
                    if state["left"] == 0:
                        done.set()

    pool = _worker_pool(threads - 1)
    for _ in range(min(threads, len(tasks)) - 1):
        pool.submit(drain)
    keep = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        drain()
    finally:
        torch.set_num_threads(keep)
        done.wait()
    if errors:
        raise errors[0]
