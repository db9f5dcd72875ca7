"""Analytic infinite-width NNGP and NTK of the ReLU MLP in NTK parameterization.

Matches neural-tangents for ``stax.serial(Dense(W, W_std, b_std), Relu(), ..., Dense(1, W_std,
b_std))`` (``depth`` Dense layers, ``parameterization='ntk'``) and ``kernel_fn(x1, x2, 'ntk')``:

* first layer (the input kernel is normalized by the input dimension d)::

      nngp_1 = W_std^2 (x . x') / d + b_std^2,      ntk_1 = nngp_1

* every further layer, a ReLU followed by a Dense (arc-cosine kernel of order 1 and 0)::

      nngp_{l+1} = W_std^2 E[relu(u) relu(v)] + b_std^2
      ntk_{l+1}  = nngp_{l+1} + W_std^2 E[relu'(u) relu'(v)] ntk_l

  with (u, v) ~ N(0, [[q, c], [c, q']]) of layer l, cos(theta) = c / sqrt(q q'):
  ``E[relu relu] = sqrt(q q') (sin theta + (pi - theta) cos theta) / (2 pi)`` and
  ``E[relu' relu'] = (pi - theta) / (2 pi)``.

The empirical NTK of :class:`~spectral_cli.ntk.mlp.NTKMLP` (NTK parameterization, same
``w_std``, ``b_std``) converges to this kernel as the width grows. The standard parameterization
has the same NNGP but its NTK depends on the width, so it has no width-independent limit here.
All computation is in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class AnalyticKernels:
    """``nngp`` and ``ntk`` of shape ``[N1, N2]`` (float64)."""

    nngp: Tensor
    ntk: Tensor


def _as_2d64(x: Tensor) -> Tensor:
    x = x.to(torch.float64)
    return x[:, None] if x.dim() == 1 else x


def _relu_expectations(c: Tensor, q1: Tensor, q2: Tensor) -> tuple[Tensor, Tensor]:
    """E[relu(u) relu(v)] and E[relu'(u) relu'(v)] for covariance c, variances q1 [N1], q2 [N2]."""
    norms = torch.sqrt(q1[:, None] * q2[None, :])
    safe = torch.where(norms > 0, norms, torch.ones_like(norms))
    cos = torch.where(norms > 0, c / safe, torch.zeros_like(c)).clamp(-1.0, 1.0)
    theta = torch.arccos(cos)
    sin = torch.sqrt(torch.clamp(1.0 - cos * cos, min=0.0))
    e_phi = norms * (sin + (math.pi - theta) * cos) / (2.0 * math.pi)
    e_dphi = (math.pi - theta) / (2.0 * math.pi)
    return e_phi, e_dphi


def analytic_relu_kernels(
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    depth: int,
    w_std: float = 1.0,
    b_std: float = 0.0,
) -> AnalyticKernels:
    """Infinite-width NNGP and NTK between ``x1`` [N1, d] and ``x2`` [N2, d] (default x1).

    ``depth`` counts Dense layers, as :class:`NTKMLP` does (``depth=1`` is a linear model).
    """
    if int(depth) < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    sym = x2 is None
    x1 = _as_2d64(x1)
    x2 = x1 if x2 is None else _as_2d64(x2)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x1 and x2 differ in dimension: {x1.shape[1]} vs {x2.shape[1]}")
    d = x1.shape[1]
    w2, b2 = float(w_std) ** 2, float(b_std) ** 2
    c = w2 * (x1 @ x2.T) / d + b2
    if sym:  # the diagonal of c itself, so cos(theta) = 1 exactly there
        q1 = q2 = c.diagonal().clone()
    else:
        q1 = w2 * (x1 * x1).sum(1) / d + b2
        q2 = w2 * (x2 * x2).sum(1) / d + b2
    ntk = c.clone()
    for _ in range(int(depth) - 1):
        e_phi, e_dphi = _relu_expectations(c, q1, q2)
        c = w2 * e_phi + b2
        ntk = c + w2 * e_dphi * ntk
        q1 = w2 * q1 / 2.0 + b2
        q2 = w2 * q2 / 2.0 + b2
    return AnalyticKernels(nngp=c, ntk=ntk)


def analytic_relu_ntk(
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    depth: int,
    w_std: float = 1.0,
    b_std: float = 0.0,
) -> Tensor:
    """The NTK of :func:`analytic_relu_kernels` (float64 ``[N1, N2]``): the infinite-width
    limit of :func:`~spectral_cli.ntk.empirical.empirical_ntk` for a ReLU
    :class:`~spectral_cli.ntk.mlp.NTKMLP` in NTK parameterization.

    Example:
        >>> import torch
        >>> from spectral_cli import analytic_ntk
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
        >>> k = analytic_ntk(x, depth=2)
        >>> k.shape, k.dtype
        (torch.Size([2, 2]), torch.float64)
        >>> bool(k[0, 0] > k[0, 1] > 0)  # orthogonal inputs still share the ReLU kernel
        True
    """
    return analytic_relu_kernels(x1, x2, depth=depth, w_std=w_std, b_std=b_std).ntk
