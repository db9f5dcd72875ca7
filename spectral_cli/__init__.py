"""spectral: a command-line toolkit for spectral and harmonic neural-network research.

Importing this package is cheap: it does not import torch (``spectral --help`` stays instant).
"""

__version__ = "0.1.0"
