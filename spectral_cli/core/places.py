"""Where spectral writes outside a run directory: its data cache, and the tools' own files.

* the data cache: ``$SPECTRAL_CACHE_DIR``, default ``~/.cache/spectral`` (the generated MNIST-1D
  arrays, :mod:`spectral_cli.core.datasets.mnist1d`);
* matplotlib keeps a font cache and config in ``~/.cache/matplotlib`` and ``~/.config/matplotlib``
  unless ``MPLCONFIGDIR`` names another folder: the command line points it at
  ``<data cache>/matplotlib`` before anything imports matplotlib, unless the user set it
  (:func:`point_tool_dirs`).

Imports nothing heavy: the console script calls it first.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where spectral caches data (``$SPECTRAL_CACHE_DIR``, default ``~/.cache/spectral``)."""
    return Path(os.environ.get("SPECTRAL_CACHE_DIR", Path.home() / ".cache" / "spectral"))


def point_tool_dirs() -> None:
    """Send matplotlib's config and font cache into the data cache (``MPLCONFIGDIR``), unless
    the user chose a folder; matplotlib reads it when first imported."""
    if not os.environ.get("MPLCONFIGDIR"):
        os.environ["MPLCONFIGDIR"] = str(cache_dir() / "matplotlib")
