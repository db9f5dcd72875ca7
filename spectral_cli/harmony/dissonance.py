"""Pairwise Plomp-Levelt dissonance of a spectrum's components, and its critical bands.

D(f1, f2, a1, a2) = a1 * a2 * (exp(-3.5 s) - exp(-5.75 s)) with s = |f2 - f1| / critical bandwidth;
:func:`pairwise_dissonance` sums it over the pairs i < j of a vector's components, the dissonance
term of :func:`spectral_cli.harmony.measures.harmony_scores`. The critical bands: ``original``
(the harmonic-autoencoder document's formula; ``seed`` is its deprecated old name,
:mod:`spectral_cli.harmony.names`), ``hutchinson-knopoff`` and ``sethares``.

Memory: with a shared frequency grid (as in :func:`harmony_scores`) the pairwise dissonance is the
bilinear form a^T K a with an N x N upper-triangular kernel K: O(N^2 + B*N) memory. Per-sample
frequencies need a B x N x N kernel; :func:`pairwise_dissonance` then works in batch chunks of at
most ``chunk_elements`` kernel entries.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from spectral_cli.harmony.names import current_name

CriticalBand = Literal["original", "hutchinson-knopoff", "sethares"]
CRITICAL_BANDS: tuple[str, ...] = ("original", "hutchinson-knopoff", "sethares")
PL_B1, PL_B2 = 3.5, 5.75  # Plomp-Levelt / Sethares decay constants


def critical_bandwidth(f1: Tensor, f2: Tensor, kind: CriticalBand = "original") -> Tensor:
    """Critical bandwidth of a frequency pair; D uses s = |f2 - f1| / bandwidth.

    - ``original``: 1.72 * (f1 + f2) / 2 * 0.001 (the original document's formula).
    - ``hutchinson-knopoff``: 1.72 * ((f1 + f2) / 2) ** 0.65 (mean clamped at the dtype's tiny,
      so the gradient stays finite at 0).
    - ``sethares``: (0.021 * min(f1, f2) + 19) / 0.24, the reciprocal of Sethares' scale
      s* = 0.24 / (0.021 * f_min + 19), so s = s* * |f2 - f1| as in his b1 = 3.5, b2 = 5.75 model.
    """
    name = current_name(kind, "critical band")
    if name == "original":
        return 1.72 * (f1 + f2) / 2 * 0.001
    if name == "hutchinson-knopoff":
        mean = (f1 + f2) / 2
        return 1.72 * mean.clamp_min(torch.finfo(mean.dtype).tiny) ** 0.65
    if name == "sethares":
        return (0.021 * torch.minimum(f1, f2) + 19) / 0.24
    raise ValueError(f"unknown critical band {kind!r}; choose one of {', '.join(CRITICAL_BANDS)}")


def plomp_levelt_dissonance(
    f1: Tensor,
    f2: Tensor,
    a1: Tensor | float,
    a2: Tensor | float,
    critical_band: CriticalBand = "original",
) -> Tensor:
    """D = a1 * a2 * (exp(-3.5 s) - exp(-5.75 s)), s = |f2 - f1| / critical bandwidth.

    Elementwise with broadcasting. The bandwidth is clamped at the dtype's tiny, so equal
    frequencies at 0 give s = 0 (D = 0) instead of 0 / 0; otherwise identical to the original
    document.
    """
    cb = critical_bandwidth(f1, f2, critical_band)
    s = (f2 - f1).abs() / cb.clamp_min(torch.finfo(cb.dtype).tiny)
    d = torch.exp(-PL_B1 * s) - torch.exp(-PL_B2 * s)
    return d * a1 * a2


def dissonance_kernel(frequencies: Tensor, critical_band: CriticalBand = "original") -> Tensor:
    """K[..., i, j] = D(f_i, f_j, 1, 1) for i < j and 0 otherwise; shape (..., N, N)."""
    f_i, f_j = frequencies[..., :, None], frequencies[..., None, :]
    n = frequencies.shape[-1]
    upper = torch.ones(n, n, dtype=torch.bool, device=frequencies.device).triu(diagonal=1)
    return plomp_levelt_dissonance(f_i, f_j, 1.0, 1.0, critical_band) * upper


def pairwise_dissonance(
    frequencies: Tensor,
    amplitudes: Tensor,
    critical_band: CriticalBand = "original",
    chunk_elements: int = 1 << 24,
) -> Tensor:
    """sum_{i<j} D(f_i, f_j, a_i, a_j) over the last dimension, batched over leading ones.

    A 1-D ``frequencies`` (a grid shared by the batch) costs one N x N kernel and a matmul.
    Batched ``frequencies`` build a per-vector kernel, in batch chunks of at most
    ``chunk_elements`` kernel entries (a loop over chunks, not over vectors).
    """
    if frequencies.dim() == 1:
        kernel = dissonance_kernel(frequencies, critical_band)
        return ((amplitudes @ kernel) * amplitudes).sum(-1)
    n = frequencies.shape[-1]
    lead = torch.broadcast_shapes(frequencies.shape[:-1], amplitudes.shape[:-1])
    f = frequencies.expand(*lead, n).reshape(-1, n)
    a = amplitudes.expand(*lead, n).reshape(-1, n)
    step = max(1, chunk_elements // max(1, n * n))
    parts = [
        torch.einsum(
            "bi,bij,bj->b",
            a[k : k + step],
            dissonance_kernel(f[k : k + step], critical_band),
            a[k : k + step],
        )
        for k in range(0, f.shape[0], step)
    ]
    out = torch.cat(parts) if parts else a.new_zeros(0)
    return out.reshape(lead)
