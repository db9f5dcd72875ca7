"""``python -m spectral_cli`` and the ``spectral`` console script.

The CLI is imported inside :func:`main` so that a Ctrl-C or SIGTERM during the imports (typer,
rich; torch comes later) is still one ``error: interrupted`` line and exit 130.
"""

from __future__ import annotations

import contextlib
import os
import sys


def _exit_interrupted(message: bool) -> None:
    """Exit 130 for real: CPython turns a non-zero exit into a SIGINT death (-2) when a
    KeyboardInterrupt once escaped code run through ``exec`` (as during ``import torch``)."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal cannot cut the line short
        with contextlib.suppress(ValueError):
            signal.signal(sig, signal.SIG_IGN)
    if message and _reporting_rank():
        sys.stderr.write("error: interrupted\n")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(130)


def _reporting_rank() -> bool:
    try:
        from spectral_cli.cli.output import reporting_rank
    except BaseException:  # interrupted while importing it: say it
        return True
    return reporting_rank()


def _exit_holding_signals(code: int) -> None:
    """Exit with ``code`` without the interpreter's shutdown, during which Python's signal
    handlers are gone and a SIGTERM kills the process silently (exit 143, seen in 3 of 8
    probes with the signal right after ``report.json``): a signal now is recorded, what
    shutdown would run (``atexit``: logging, multiprocessing; collectable objects' buffers)
    runs, and a recorded signal is the usual interruption (one line, 130)."""
    import atexit
    import gc
    import signal
    import threading

    pending: list[int] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, _frame: pending.append(signum))
    shutdown = getattr(threading, "_shutdown", None)  # joins non-daemon threads, as exit does
    if shutdown is not None:
        shutdown()
    gc.collect()  # file objects nobody holds flush their buffers now
    atexit._run_exitfuncs()
    if pending:
        _exit_interrupted(message=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main() -> None:
    try:
        try:
            from spectral_cli.core.places import point_tool_dirs

            point_tool_dirs()  # MPLCONFIGDIR, before anything imports matplotlib
            import spectral_cli.cli  # noqa: F401 - installs the SIGTERM handler first
            from spectral_cli.cli.main import app

            app()  # building the click command happens before the group's own error handling
            code: str | int | None = 0
        except SystemExit as exc:
            code = exc.code
        if code == 130:  # the group already printed its one line
            _exit_interrupted(message=False)
        if code is not None and not isinstance(code, int):
            sys.exit(code)  # a message to print: Python's own exit does it
        _exit_holding_signals(code or 0)
    except KeyboardInterrupt:  # also a signal between the command's end and the exit
        _exit_interrupted(message=True)


if __name__ == "__main__":
    main()
