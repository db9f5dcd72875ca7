"""spectral: a command-line toolkit for spectral and harmonic neural-network research.

Importing this package is cheap: it does not import torch (``spectral --help`` stays instant).
The public Python API is loaded lazily, on first attribute access::

    from spectral_cli import HarmonicEmbedding, HarmonicLayer, NTKMLP
    from spectral_cli import empirical_ntk, analytic_ntk, harmony_scores

Each name's docstring has a runnable example (they run as doctests in the test suite).
"""

from __future__ import annotations

import importlib
from typing import Any

from spectral_cli.core.version import __version__

# public name -> (module, attribute); imported on first access (PEP 562)
_API: dict[str, tuple[str, str]] = {
    "HarmonicEmbedding": ("spectral_cli.embeddings.hpe", "HarmonicEmbedding"),
    "HarmonicLayer": ("spectral_cli.hmlp.layer", "HarmonicLayer"),
    "NTKMLP": ("spectral_cli.ntk.mlp", "NTKMLP"),
    "empirical_ntk": ("spectral_cli.ntk.empirical", "empirical_ntk"),
    "analytic_ntk": ("spectral_cli.ntk.analytic", "analytic_relu_ntk"),
    "harmony_scores": ("spectral_cli.harmony.measures", "harmony_scores"),
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    entry = _API.get(name)
    if entry is None:
        raise AttributeError(f"module 'spectral_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(entry[0]), entry[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
