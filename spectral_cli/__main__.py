"""``python -m spectral_cli`` and the ``spectral`` console script.

The CLI is imported inside :func:`main` so that a Ctrl-C or SIGTERM during the imports (typer,
rich; torch comes later) is still one ``error: interrupted`` line and exit 130.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        import spectral_cli.cli  # noqa: F401 - installs the SIGTERM handler first
        from spectral_cli.cli.main import app

        app()  # building the click command happens before the group's own error handling
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
