"""Renamed values of the harmony measures: ``seed`` is now ``original``.

``--variant`` and ``--critical-band`` (and the HAE config's ``model.variant`` /
``model.critical_band``) once called the harmonic-autoencoder document's own behaviour ``seed``,
next to the RNG ``--seed``. It is now ``original``; ``seed`` is still accepted wherever it was (a
flag, ``--set``, a YAML config, the Python API) and means ``original``, with a
:class:`~spectral_cli.core.deprecation.DeprecatedNameWarning` that the CLI shows as one
``note:`` line. A checkpoint written
before the rename loads silently (:func:`quiet_renames`): nothing the user typed needs fixing.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

from spectral_cli.core.deprecation import DeprecatedNameWarning

RENAMED = {"seed": "original"}  # old value -> current value (variant and critical band alike)


def current_name(value: str | None, what: str) -> str | None:
    """``value`` under its current name (``seed`` -> ``original``, with a warning naming
    ``what``); anything else unchanged, for the validation that follows to judge."""
    if value in RENAMED:
        assert value is not None
        new = RENAMED[value]
        warnings.warn(
            f"{what} {value!r} is deprecated: it is now called {new!r} (the original "
            f"document's behaviour; 'seed' reads like the RNG --seed); pass {new!r}",
            DeprecatedNameWarning,
            stacklevel=3,
        )
        return new
    return value


@contextlib.contextmanager
def quiet_renames() -> Iterator[None]:
    """No warning for an old name stored in a checkpoint's config (the file is not the user's
    to fix; its values are mapped all the same)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecatedNameWarning)
        yield
