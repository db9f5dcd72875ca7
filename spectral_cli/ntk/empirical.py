"""Empirical neural tangent kernel K[i, j] = sum_theta <df(x_i)/dtheta, df(x_j)/dtheta>.

Three implementations, all returning ``[N1, N2]`` in the model's parameter dtype:

* :func:`ntk_structured` -- the fast path for :class:`~spectral_cli.ntk.mlp.NTKMLP`. For a
  Linear layer ``z = c_w a W^T + c_b b`` the per-sample gradients are ``df/dW = c_w delta a^T`` and
  ``df/db = c_b delta`` (``delta = df/dz``), so the layer contributes the Hadamard product
  ``(c_w^2 A1 A2^T + c_b^2) * (D1 D2^T)`` and the Jacobian (N x P) is never built. Cost
  ``O(N1 N2 sum_l (fan_in_l + fan_out_l))`` instead of ``O(N1 N2 P)``, plus one forward and
  one backward pass; computed in cache-sized tiles on worker threads (see its docstring).
* :func:`ntk_jacrev` -- any ``nn.Module``: ``torch.func.vmap(jacrev(f))`` over blocks of points
  and a contraction of the per-parameter Jacobian blocks. Multi-output models are traced over the
  output (``sum_o <df_o(x_i)/dtheta, df_o(x_j)/dtheta>``, neural-tangents' default ``trace_axes``).
* :func:`ntk_autograd_loop` -- the brute-force reference: one ``autograd.grad`` per sample, the
  full Jacobian in memory, ``K = J1 J2^T``. Slow; for tests and the benchmark baseline.

Only parameters with ``requires_grad=True`` count as theta (in all three paths).
Passing ``x2=None`` computes the symmetric train kernel K(x1, x1); only its upper block triangle is
computed and mirrored, so it is exactly symmetric.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from spectral_cli.ntk.autodiff import (  # re-exported: the generic paths
    DEFAULT_JAC_BLOCK_BYTES,
    _as_2d,
    _blocks,
    ntk_autograd_loop,
    ntk_jacrev,
)
from spectral_cli.ntk.mlp import NTKMLP
from spectral_cli.ntk.workers import cpu_threads, run_tasks

Method = Literal["auto", "structured", "jacrev", "loop"]

MAX_STRUCTURED_TILE = 256  # CPU: a [256, 256] float64 tile is 512 KiB, an L2's worth
DEVICE_STRUCTURED_TILE = 4096  # CUDA and other devices: few, large launches


# ------------------------------------------------------------------ structured NTK of NTKMLP


@dataclass(frozen=True)
class _Features:
    """Per-layer Gram factors of one input set (see :func:`ntk_structured`).

    ``acts[l]``: input of layer ``l`` (``acts[0] = x``); ``deltas[l]`` for the hidden layers
    ``l < L - 1``: ``df/dz_l`` divided by ``prod_{k > l} c_w(k)`` (that factor, squared, goes
    into the layer's coefficient instead of a pass over the matrix).
    """

    acts: list[Tensor]
    deltas: list[Tensor]


def _chunk_rows(n: int, threads: int) -> int:
    """Rows per forward/backward task: two tasks per thread, at least 64 rows each (each task
    re-reads the weights, so fewer, larger tasks cost less CPU time)."""
    return n if threads <= 1 else max(64, -(-n // (2 * threads)))


def _mlp_gram_factors(model: NTKMLP, x: Tensor, threads: int) -> _Features:
    """Layer inputs and back-propagated gradients, computed in place (no pre-activations kept).

    ``a_{l+1} = relu(c_w a_l W^T + c_b b)`` straight into its buffer; the ReLU mask of layer
    ``l`` is ``a_{l+1} > 0``; ``dhat_{L-2} = mask * W_{L-1}`` and ``dhat_{l-1} = (dhat_l W_l) *
    mask`` (ReLU derivative 0 at 0, as autograd's).
    """
    layers = model.linears()
    scales = model.layer_scales()
    last = len(layers) - 1
    x = model.check_input(x)
    n = x.shape[0]
    acts = [x] + [x.new_empty(n, layer.out_features) for layer in layers[:-1]]
    deltas = [x.new_empty(n, layer.out_features) for layer in layers[:-1]]
    weights = [layer.weight.detach() for layer in layers]
    biases = [layer.bias.detach() for layer in layers]

    relu_backward = torch.ops.aten.threshold_backward.grad_input  # g * (a > 0), one pass

    def rows(s: int, e: int) -> None:
        for i in range(last):
            c_w, c_b = scales[i]
            z = acts[i + 1][s:e]
            torch.addmm(biases[i], acts[i][s:e], weights[i].T, beta=c_b, alpha=c_w, out=z)
            z.relu_()
        if last == 0:
            return
        w_out = weights[last][0].expand(e - s, -1)
        relu_backward(w_out, acts[last][s:e], 0, grad_input=deltas[last - 1][s:e])
        for i in range(last - 1, 0, -1):
            d = deltas[i - 1][s:e]
            torch.mm(deltas[i][s:e], weights[i], out=d)
            relu_backward(d, acts[i][s:e], 0, grad_input=d)

    step = _chunk_rows(n, threads)
    run_tasks([functools.partial(rows, s, e) for s, e in _blocks(n, step)], threads)
    return _Features(acts=acts, deltas=deltas)


def _layer_coefficients(model: NTKMLP) -> list[tuple[float, float, float]]:
    """Per layer ``(cw2, cb2, s2)``: the layer adds ``(cw2 A A^T + cb2) * s2 (Dhat Dhat^T)``.

    ``cw2 = c_w^2``, ``cb2 = c_b^2`` (0 for frozen parameters, which are not theta) and ``s2 =
    prod_{k > l} c_w(k)^2`` (1 for the last layer, whose delta is 1).
    """
    scales = model.layer_scales()
    out = []
    s2 = 1.0
    for layer, (c_w, c_b) in reversed(list(zip(model.linears(), scales, strict=True))):
        out.append(
            (c_w * c_w * layer.weight.requires_grad, c_b * c_b * layer.bias.requires_grad, s2)
        )
        s2 *= c_w * c_w
    return out[::-1]


def _kernel_tile(
    coefs: list[tuple[float, float, float]],
    f1: _Features,
    f2: _Features,
    r: tuple[int, int],
    c: tuple[int, int],
    acc: Tensor,
) -> None:
    """``acc = sum_l (cw2 A1 A2^T + cb2) * s2 (D1 D2^T)`` on rows ``r`` of f1, columns ``c`` of
    f2 (``acc`` may be a view into the kernel)."""
    (r0, r1), (c0, c1) = r, c
    last = len(coefs) - 1
    a1 = [a[r0:r1] for a in f1.acts]
    a2 = [a[c0:c1] for a in f2.acts]
    cw2, cb2, _ = coefs[last]
    _gram(a1[last], a2[last], cw2, cb2, acc)
    if last == 0:
        return
    shape = (r1 - r0, c1 - c0)
    ga = torch.empty(shape, dtype=acc.dtype, device=acc.device)
    gd = torch.empty(shape, dtype=acc.dtype, device=acc.device)
    for i in range(last):
        cw2, cb2, s2 = coefs[i]
        if s2 == 0.0 or (cw2 == 0.0 and cb2 == 0.0):
            continue
        torch.mm(f1.deltas[i][r0:r1], f2.deltas[i][c0:c1].T, out=gd)
        _gram(a1[i], a2[i], cw2, cb2, ga)
        acc.addcmul_(ga, gd, value=s2)


def _gram(a1: Tensor, a2: Tensor, cw2: float, cb2: float, out: Tensor) -> None:
    """``out = cw2 a1 a2^T + cb2``."""
    if cb2 == 0.0:
        torch.mm(a1, a2.T, out=out)
        if cw2 != 1.0:
            out.mul_(cw2)
    else:
        out.fill_(cb2).addmm_(a1, a2.T, alpha=cw2)


def _tile_size(n1: int, n2: int, sym: bool, threads: int, device: torch.device) -> int:
    """Tile edge: large off the CPU; on it 256 (cache-sized), halved (down to 64) while there
    are fewer tiles than twice the threads, so that every thread has work."""
    if device.type != "cpu":
        return DEVICE_STRUCTURED_TILE
    size = MAX_STRUCTURED_TILE
    while size > 64:
        r, c = -(-n1 // size), -(-n2 // size)
        if (r * (r + 1) // 2 if sym else r * c) >= 2 * threads:
            break
        size //= 2
    return size


@torch.no_grad()
def ntk_structured(
    model: NTKMLP, x1: Tensor, x2: Tensor | None = None, *, block_size: int | None = None
) -> Tensor:
    """Empirical NTK of an :class:`NTKMLP` from layer-wise activations and back-prop gradients.

    One forward and one backward pass per input set (in row chunks), then the kernel in square
    tiles: per tile and layer two GEMMs ``A1 A2^T`` and ``D1 D2^T`` and one fused multiply-add
    into the tile, so the ``[B, B]`` temporaries stay in cache. Symmetric ``K(x1, x1)``
    (``x2=None``): only tiles on and above the diagonal are computed, then mirrored (diagonal
    tiles are symmetrized), so the result is exactly symmetric at half the GEMM work. On the CPU
    the chunks and tiles run on ``torch.get_num_threads()`` worker threads with one intra-op
    thread each (see :mod:`spectral_cli.ntk.workers`); elsewhere in one stream.

    ``block_size``: the tile edge ``B`` (default: 256 on the CPU, smaller for small N so that
    every thread has tiles; 4096 on other devices).

    Memory (bytes; ``s`` = itemsize of the model dtype, ``F = d_in + 2 (depth - 1) W`` stored
    features per point: every layer's input and every hidden layer's gradient)::

        s * (N1 N2  +  (N1 + N2) F  +  3 T B^2)

    (``N2 F`` only once when ``x2 is None``; ``T`` threads). ``N = 10_000, W = 512, depth = 4,
    d_in = 32``, float64: 0.80 + 0.25 + 0.003 GB; the Jacobian alone would be 43 GB.
    """
    if block_size is not None and int(block_size) < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    x1 = _as_2d(x1)
    sym = x2 is None
    device = model.linears()[0].weight.device
    threads = cpu_threads() if device.type == "cpu" else 1
    f1 = _mlp_gram_factors(model, x1, threads)
    f2 = f1 if x2 is None else _mlp_gram_factors(model, _as_2d(x2), threads)
    n1, n2 = f1.acts[0].shape[0], f2.acts[0].shape[0]
    tile = int(block_size) if block_size else _tile_size(n1, n2, sym, threads, device)
    coefs = _layer_coefficients(model)
    out = torch.empty(n1, n2, dtype=f1.acts[0].dtype, device=device)

    def one(r: tuple[int, int], c: tuple[int, int]) -> None:
        view = out[r[0] : r[1], c[0] : c[1]]
        if sym and r == c:  # GEMM rounding is not symmetric: average the diagonal tile
            t = torch.empty(r[1] - r[0], c[1] - c[0], dtype=out.dtype, device=out.device)
            _kernel_tile(coefs, f1, f2, r, c, t)
            torch.add(t, t.T, out=view).mul_(0.5)
            return
        _kernel_tile(coefs, f1, f2, r, c, view)
        if sym:
            out[c[0] : c[1], r[0] : r[1]] = view.T

    rows, cols = _blocks(n1, tile), _blocks(n2, tile)
    tasks = [
        functools.partial(one, r, c)
        for i, r in enumerate(rows)
        for j, c in enumerate(cols)
        if not (sym and j < i)
    ]
    run_tasks(tasks, threads)
    return out


def empirical_ntk(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    method: Method = "auto",
    block_size: int | None = None,
) -> Tensor:
    """Empirical NTK ``[N1, N2]``; ``"auto"``: structured for :class:`NTKMLP`, else jacrev.

    ``K[a, b] = <d f(x1_a) / d theta, d f(x2_b) / d theta>`` for a scalar-output model.

    Example:
        >>> import torch
        >>> from spectral_cli import NTKMLP, empirical_ntk
        >>> g = torch.Generator().manual_seed(0)
        >>> model = NTKMLP(3, width=32, depth=2, generator=g, dtype=torch.float64)
        >>> x = torch.randn(4, 3, generator=g, dtype=torch.float64)
        >>> fast, slow = empirical_ntk(model, x), empirical_ntk(model, x, method="loop")
        >>> bool(torch.allclose(fast, slow, rtol=1e-12, atol=1e-12))
        True
    """
    if method == "auto":
        method = "structured" if isinstance(model, NTKMLP) else "jacrev"
    if method == "structured":
        if not isinstance(model, NTKMLP):
            raise ValueError("the structured NTK path supports NTKMLP models only; use 'jacrev'")
        return ntk_structured(model, x1, x2, block_size=block_size)
    if method == "jacrev":
        return ntk_jacrev(model, x1, x2, block_size=block_size)
    if method == "loop":
        return ntk_autograd_loop(model, x1, x2)
    raise ValueError(f"unknown NTK method {method!r}; choose auto, structured, jacrev or loop")


__all__ = [
    "DEFAULT_JAC_BLOCK_BYTES",
    "empirical_ntk",
    "ntk_autograd_loop",
    "ntk_jacrev",
    "ntk_structured",
]
