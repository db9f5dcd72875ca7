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
    if message:
        sys.stderr.write("error: interrupted\n")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(130)


def main() -> None:
    try:
        from spectral_cli.core.places import point_tool_dirs

        point_tool_dirs()  # MPLCONFIGDIR, before anything imports matplotlib
        import spectral_cli.cli  # noqa: F401 - installs the SIGTERM handler first
        from spectral_cli.cli.main import app

        app()  # building the click command happens before the group's own error handling
    except KeyboardInterrupt:
        _exit_interrupted(message=True)
    except SystemExit as exc:
        if exc.code == 130:  # the group already printed its one line
            _exit_interrupted(message=False)
        raise


if __name__ == "__main__":
    main()
