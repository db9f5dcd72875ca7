"""Fourier feature mappings gamma(v) of Tancik et al. 2020 (source document 004).

Every mapping except ``none`` has the form (the original document's eq. 5, with a frequency
matrix ``B`` [M, d] and coefficients ``a`` [M])::

    gamma(v) = [a * cos(2 pi B v), a * sin(2 pi B v)] / norm      -> 2M features

Column order: the M cosines first, then the M sines (Tancik's code concatenates the two blocks the
same way; the original document interleaves them per frequency; the order does not change an MLP's
kernel).

* ``none``   gamma(v) = v                                             -> d features
* ``basic``  B = I_d, a = 1: [cos 2 pi v, sin 2 pi v]                   -> 2d features
* ``toy``    b_j = j, a_j = 1 / j**p, j = 1..m (1-D toy of the paper)   -> 2md features
* ``posenc`` frequencies sigma**(j/m), j = 0..m-1, a = 1                -> 2md features
* ``gauss``  B ~ N(0, sigma**2) of shape [m, d] (seeded), a = 1          -> 2m features

``toy`` and ``posenc`` use on-axis frequencies: for d-D input every frequency is applied to every
coordinate (rows ``b_j e_k`` of B, frequency-major), so 1-D input is the paper's case.

Number of frequencies ``m``. The original document's 1-D toy uses the full Fourier basis ``j = 1 ..
n/2`` of the n-point grid (128 on toy1d's 256 points); this function cannot know the grid, so its
``m`` argument is explicit (default 16), and ``spectral ntk`` resolves the original document's
default where the task is known (:func:`spectral_cli.ntk.config.natural_m`; pinned by
``tests/ntk/test_ntk_original_basis.py``). The original document's posenc/gauss section leaves ``m``
open; 16 is this project's default for both.

Deliberate choices, each pinned by a test:

* ``toy`` is normalized by ``norm = ||a||`` (so ``||gamma(v)|| = 1`` for every p), as in Tancik
  et al.'s reference code (``input_encoder(...) / np.linalg.norm(a)``); the original document's eq.
  5 has no such factor.
  Without it the kernel's overall scale changes with p and a p-sweep mixes bandwidth with scale.
  The other mappings are not normalized (``norm = 1``) unless ``normalize=True``.
* ``toy`` with ``p = inf`` gives a = (1, 0, ..., 0): the feature vector keeps its 2md columns (the
  zero ones included), so the input dimension does not change along a p-sweep and p = inf is the
  limit of large p (Tancik's code does the same). Its non-zero part is exactly ``basic``'s
  [cos 2 pi v, sin 2 pi v], which is what the original document means by p = inf.

Features are computed in float64 and returned in the input's floating dtype (float32 for integer
input), so large frequencies do not lose phase accuracy in float32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

ENCODINGS: tuple[str, ...] = ("none", "basic", "toy", "posenc", "gauss")


class FourierEncoding(nn.Module):
    """gamma(v) = [a cos(2 pi B v), a sin(2 pi B v)] / norm, or the identity for ``none``.

    Build it with :func:`make_encoding`. Buffers ``a`` [M] and ``B`` [M, d] (float64) are part of
    the state dict, so a Gaussian mapping can be saved and rebuilt exactly.
    """

    a: Tensor | None  # buffers, both None for ``none``
    B: Tensor | None

    def __init__(self, name: str, in_features: int, a: Tensor | None, B: Tensor | None) -> None:
        super().__init__()
        self.name = name
        self.in_features = int(in_features)
        self.register_buffer("a", a.to(torch.float64) if a is not None else None)
        self.register_buffer("B", B.to(torch.float64) if B is not None else None)
        self.out_features = self.in_features if B is None else 2 * B.shape[0]

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``[N]`` (1-D input) or ``[N, d]`` -> ``[N, out_features]``."""
        if x.dim() == 1:
            x = x[:, None]
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"expected input of shape [N, {self.in_features}], got {tuple(x.shape)}"
            )
        out_dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        if self.B is None:
            return x.to(out_dtype)
        B = self.B.to(torch.float64)
        assert self.a is not None  # make_encoding gives both buffers or neither
        a = self.a.to(torch.float64)
        proj = (2.0 * math.pi) * (x.to(torch.float64) @ B.T)
        feats = torch.cat([a * torch.cos(proj), a * torch.sin(proj)], dim=1)
        return feats.to(out_dtype)


def toy_coefficients(m: int, p: float) -> Tensor:
    """a_j = 1 / j**p for j = 1..m (float64); p = inf gives (1, 0, ..., 0)."""
    j = torch.arange(1, m + 1, dtype=torch.float64)
    if math.isinf(p):
        return (j == 1).to(torch.float64)
    return j.pow(-float(p))


def _on_axis(freqs: Tensor, d: int) -> Tensor:
    """Rows ``f_j e_k`` (frequency-major): [len(freqs) * d, d]."""
    eye = torch.eye(d, dtype=torch.float64)
    return (freqs[:, None, None] * eye[None, :, :]).reshape(-1, d)


def make_encoding(
    name: str,
    in_features: int = 1,
    *,
    m: int = 16,
    p: float = 1.0,
    scale: float = 10.0,
    seed: int = 0,
    normalize: bool | None = None,
) -> FourierEncoding:
    """Build the mapping ``name`` (one of :data:`ENCODINGS`) for ``in_features``-D input.

    Args:
        m: number of frequencies (toy, posenc: per input coordinate; gauss: in total).
        p: toy decay exponent, ``a_j = j**-p``; ``p >= 0``, ``math.inf`` allowed.
        scale: sigma of ``posenc`` (frequencies sigma**(j/m)) and ``gauss`` (B ~ N(0, sigma**2)).
        seed: seed of the Gaussian matrix B (``torch.Generator``; same seed -> same B).
        normalize: divide by ``||a||``; default True for ``toy`` only (see module docstring).
    """
    if name not in ENCODINGS:
        raise ValueError(f"unknown encoding {name!r}; choose one of {', '.join(ENCODINGS)}")
    d = int(in_features)
    if d < 1:
        raise ValueError(f"in_features must be >= 1, got {in_features}")
    if name in ("toy", "posenc", "gauss") and int(m) < 1:
        raise ValueError(f"m (number of frequencies) must be >= 1, got {m}")
    if name == "toy" and (math.isnan(p) or p < 0):
        raise ValueError(f"p must be >= 0 (or inf), got {p}")
    if name in ("posenc", "gauss") and (not math.isfinite(scale) or scale <= 0):
        raise ValueError(f"scale must be finite and > 0, got {scale}")
    if name == "none":
        return FourierEncoding(name, d, None, None)
    if name == "basic":
        B = torch.eye(d, dtype=torch.float64)
        a = torch.ones(d, dtype=torch.float64)
    elif name == "toy":
        B = _on_axis(torch.arange(1, m + 1, dtype=torch.float64), d)
        a = toy_coefficients(m, p).repeat_interleave(d)
    elif name == "posenc":
        j = torch.arange(m, dtype=torch.float64)
        B = _on_axis(float(scale) ** (j / m), d)
        a = torch.ones(m * d, dtype=torch.float64)
    else:  # gauss
        gen = torch.Generator().manual_seed(int(seed))
        B = torch.randn(m, d, generator=gen, dtype=torch.float64) * float(scale)
        a = torch.ones(m, dtype=torch.float64)
    if normalize is None:
        normalize = name == "toy"
    if normalize:
        a = a / torch.linalg.vector_norm(a)
    return FourierEncoding(name, d, a, B)
