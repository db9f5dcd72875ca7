"""Values under an old name: accepted, mapped to the current one, and said once.

A system that renames a setting's value warns with :class:`DeprecatedNameWarning`; the CLI
wraps each command's config resolution in :func:`deprecation_notes`, which turns each distinct
warning into one ``note:`` line on stderr instead of Python's two-line warning display.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator


class DeprecatedNameWarning(FutureWarning):
    """A value under its old name was given; it was mapped to the current one."""


@contextlib.contextmanager
def deprecation_notes(note: Callable[[str], None]) -> Iterator[None]:
    """Pass each distinct :class:`DeprecatedNameWarning` raised inside to ``note`` (the CLI
    prints it as a ``note:`` line) instead of Python's warning display."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecatedNameWarning)
        yield
    others = [w for w in caught if not issubclass(w.category, DeprecatedNameWarning)]
    for message in dict.fromkeys(str(w.message) for w in caught if w not in others):
        note(message)
    for w in others:  # recorded only because catch_warnings records everything: show them
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
