"""Exceptions that map one-to-one onto the CLI's exit codes (docs/architecture.md, "Exit codes").

Core modules raise these; the CLI turns them into a one-line ``error: ...`` message and the
matching exit code. They import nothing heavy so the CLI can catch them without torch.
"""

from __future__ import annotations


class SpectralError(Exception):
    """Base class; ``exit_code`` is what the process exits with."""

    exit_code: int = 1


class BadInput(SpectralError):
    """Invalid option, config value, file or shape (exit 2)."""

    exit_code = 2


class CheckFailed(SpectralError):
    """A check ran and failed, e.g. a tolerance was exceeded (exit 1)."""

    exit_code = 1


class RuntimeFailure(SpectralError):
    """The computation failed at run time: NaN/inf loss, out of memory (exit 3)."""

    exit_code = 3


class Interrupted(SpectralError):
    """Ctrl-C or SIGTERM: state was saved and ``--resume`` continues (exit 130)."""

    exit_code = 130
