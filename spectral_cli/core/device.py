"""Device selection (``--device auto|cpu|cuda|cuda:N``) and seeding."""

from __future__ import annotations

import random
import re

import numpy as np
import torch

from spectral_cli.core.errors import BadInput

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(spec: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; asking for absent CUDA is bad input."""
    spec = spec.strip().lower()
    if not _DEVICE_RE.match(spec):
        raise BadInput(f"--device {spec!r} is not one of auto, cpu, cuda, cuda:N")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise BadInput(f"--device {spec}: CUDA is not available on this machine; use --device cpu")
    device = torch.device(spec)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise BadInput(
            f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present "
            f"(cuda:0..cuda:{torch.cuda.device_count() - 1})"
        )
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
