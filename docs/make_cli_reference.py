"""Regenerate docs/cli.md, the CLI reference, with Typer's own Markdown generator.

Usage (from the repository root)::

    python docs/make_cli_reference.py            # writes docs/cli.md
    python docs/make_cli_reference.py OUT.md     # writes OUT.md instead

It runs ``python -m typer spectral_cli.cli.main utils docs --name spectral --output OUT`` with a
fixed environment (80 columns, no colour, dumb terminal, this checkout first on PYTHONPATH), so the
output does not depend on the terminal it is run from. ``tests/test_docs.py`` regenerates the file
the same way and fails when the committed docs/cli.md differs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "cli.md"
COMMAND = "python docs/make_cli_reference.py"
# the Typer release that generated the committed docs/cli.md; another release may format the
# Markdown differently, so tests/test_docs.py compares only under this one (update on regeneration)
TYPER_VERSION = "0.29.2"


def generate(output: Path) -> None:
    """Write the Markdown CLI reference of the ``spectral`` app to ``output``."""
    env = dict(os.environ)
    for name in ("FORCE_COLOR", "CLICOLOR_FORCE", "_TYPER_FORCE_DISABLE_TERMINAL"):
        env.pop(name, None)
    env.update(
        COLUMNS="80",
        LINES="24",
        TERM="dumb",
        NO_COLOR="1",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    cmd = [sys.executable, "-m", "typer", "spectral_cli.cli.main", "utils", "docs"]
    cmd += ["--name", "spectral", "--output", str(output)]
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    output = Path(argv[0]).resolve() if argv else DEFAULT_OUTPUT
    generate(output)
    import typer

    print(f"wrote {output} (typer {typer.__version__}; TYPER_VERSION here: {TYPER_VERSION})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
