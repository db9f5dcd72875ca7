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
  ``E[relu' relu'] = (pi - theta) / (2 pi)``. At identical points (cos theta = 1) these are
  ``q / 2`` and ``1/2`` exactly: the code sets theta = 0 there instead of taking arccos of a
  ratio of separately rounded covariances (a ~1e-9 relative error on the NTK's diagonal).

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


def _same_points(x1: Tensor, x2: Tensor) -> Tensor:
    """``[N1, N2]`` bool: row ``i`` of x1 equals row ``j`` of x2 (bit for bit, up to the sign
    of zeros)."""
    _, ids = torch.unique(torch.cat([x1, x2]), dim=0, return_inverse=True)
    return ids[: x1.shape[0], None] == ids[None, x1.shape[0] :]


def _relu_expectations(c: Tensor, q1: Tensor, q2: Tensor, same: Tensor) -> tuple[Tensor, Tensor]:
    """E[relu(u) relu(v)] and E[relu'(u) relu'(v)] for covariance c, variances q1 [N1], q2 [N2].

    ``same`` marks pairs of identical points: their correlation is 1 exactly, however ``c`` and
    ``q`` were rounded. Near cos(theta) = 1 the angle is ill-conditioned (``theta ~ sqrt(2 (1 -
    cos))``: one rounding of c against q moves it by ~1e-8, and E[relu' relu'] by ~1e-9 relative,
    the error of computing the variances apart), so those pairs get theta = 0 and the forms below
    give E[relu' relu'] = 1/2 and E[relu relu] = sqrt(q q') / 2 exactly there::

        E[relu relu]   = sqrt(q q') (cos / 2 + (sin - theta cos) / (2 pi))
        E[relu' relu'] = 1/2 - theta / (2 pi)

    with ``sin = sqrt((1 - cos)(1 + cos))`` (no cancellation near cos = 1).
    """
    norms = torch.sqrt(q1[:, None] * q2[None, :])
    safe = torch.where(norms > 0, norms, torch.ones_like(norms))
    cos = torch.where(norms > 0, c / safe, torch.zeros_like(c)).clamp(-1.0, 1.0)
    cos = torch.where(same & (norms > 0), torch.ones_like(cos), cos)
    theta = torch.arccos(cos)
    sin = torch.sqrt(torch.clamp((1.0 - cos) * (1.0 + cos), min=0.0))
    e_phi = norms * (0.5 * cos + (sin - theta * cos) / (2.0 * math.pi))
    e_dphi = 0.5 - theta / (2.0 * math.pi)
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
    Pairs of identical points (the diagonal of ``K(x, x)``, and repeated points in a cross
    kernel) are exact to rounding (see :func:`_relu_expectations`).
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
    same = _same_points(x1, x2) if int(depth) > 1 else None
    ntk = c.clone()
    for _ in range(int(depth) - 1):
        assert same is not None
        e_phi, e_dphi = _relu_expectations(c, q1, q2, same)
        c = w2 * e_phi + b2
        ntk = c + w2 * e_dphi * ntk
        q1 = w2 * (q1 * 0.5) + b2
        q2 = q1 if sym else w2 * (q2 * 0.5) + b2
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
