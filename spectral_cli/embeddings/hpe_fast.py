"""Fast HPE synthesis: angle addition, one small batched matrix product, analytic backward.

Row ``i`` of the table is ``E[i, j] = sum_k a_k sin(w_k j / D + phi_k)``. Splitting the dimension
index as ``j = r*M + m`` (``0 <= m < M``, ``0 <= r < R``, ``R*M >= D``) and writing
``A_kr = w_k r M / D + phi_k`` and ``B_km = w_k m / D``, the angle-addition identity gives::

    E[i, rM + m] = sum_k a_k sin(A_kr) cos(B_km) + a_k cos(A_kr) sin(B_km) = (P @ Q)[r, m]
    P = [a sin A | a cos A]  (R x 2K),   Q = [cos B ; sin B]  (2K x M)

so a row costs 2K(R + M) sines and cosines (about 4K sqrt(D)) and one (R x 2K) @ (2K x M)
product instead of K*D sines. The backward pass is analytic in the same sines and cosines, kept
from the forward pass. With ``g`` the gradient of a synthesized row and ``g'`` = ``g * j/D``,
one more batched product ``[g ; g'] @ Q^T`` gives ``Hc = sum_m g cos B`` and ``Hs = sum_m g sin B``
(and ``Hc'``, ``Hs'``), and::

    dE/da_k   = sum_r sin A_kr Hc_kr + cos A_kr Hs_kr          (= sum_j g_j sin theta_kj)
    dE/dphi_k = a_k sum_r cos A_kr Hc_kr - sin A_kr Hs_kr      (= a_k sum_j g_j cos theta_kj)
    dE/dw_k   = a_k sum_r cos A_kr Hc'_kr - sin A_kr Hs'_kr    (= a_k sum_j g_j j/D cos theta_kj)

Only the rows of the batch's distinct tokens are synthesized (``unique``), or the whole table
when the batch has more tokens than the vocabulary. The output is gathered with ``index_select``
and its gradient summed per row with ``index_add_``: memory O(rows x D) (the kept sines and
cosines are 3RK + 2KM numbers per row, 3.5 D at D=512, K=16), and no dense vocabulary x D
gradient as ``nn.Embedding`` builds. In float64 the result agrees with the direct formula to
~1e-15; in float32 it differs from the reference path by a few ulps of the angles (tests pin it).

The eager bodies (the default) work in row blocks of about 2^18 numbers, so that at language-model
scale the temporaries stay cache-sized and are recycled instead of page-faulted in; a small block
(the seed's whole 256-row table) takes its A and B angles in one buffer, for one sin and one cos
call: at that size the cost is the number of calls, not the arithmetic.

``compiled=True`` runs the forward and backward bodies through ``torch.compile`` (fused loops
around the batched products; compiled on first use, tens of seconds, then cached on disk); the
eager bodies are the exact fallback and the default.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


@functools.lru_cache(maxsize=64)
def split_dim(d: int) -> tuple[int, int]:
    """(M, R) with R*M >= d minimizing the sines per row, M + R; padding (R*M > d) costs a
    copy of the table and its gradient, so it is charged 4 per padded position."""
    best = (d + 1, d, 1)
    for m in range(1, d + 1):
        r = -(-d // m)
        cost = m + r + 4 * (r * m - d)
        if cost <= best[0]:  # ties go to the larger M (longer contiguous runs)
            best = (cost, m, r)
    return best[1], best[2]


@functools.lru_cache(maxsize=64)
def _constants(
    d: int, m: int, r: int, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor, Tensor]:
    """r*M/D as (R, 1), m/D as (M,), and [1 ; j/D] as (2, R, M); exact in float64."""
    j = torch.arange(r * m, dtype=torch.float64) / d
    values = (
        (torch.arange(r, dtype=torch.float64) * (m / d)).view(r, 1),
        torch.arange(m, dtype=torch.float64) / d,
        torch.stack((torch.ones_like(j), j)).view(2, r, m),
    )
    return tuple(v.to(dtype=dtype, device=device) for v in values)  # type: ignore[return-value]


def synth_core(
    a: Tensor, w: Tensor, phi: Tensor, c_r: Tensor, c_m: Tensor, sa: Tensor, q: Tensor
) -> Tensor:
    """(U, K) parameters -> P (U, R, 2K); fills ``sa`` (U, R, 3, K) with [sin A, cos A, sin A]
    and ``q`` (U, 2K, M) with [cos B ; sin B]."""
    (u, k), r, m = a.shape, c_r.shape[0], c_m.shape[0]
    n = u * r * k
    if n + u * k * m > 1 << 16:  # large blocks: no copies (sines written in place)
        x = torch.addcmul(phi.unsqueeze(1), w.unsqueeze(1), c_r)  # A (U, R, K)
        s, c = torch.sin(x), torch.cos(x)
        x = w.unsqueeze(-1) * c_m  # B (U, K, M)
        torch.cos(x, out=q.view(u, 2, k, m)[:, 0])
        torch.sin(x, out=q.view(u, 2, k, m)[:, 1])
    else:  # small blocks: fewer calls (A and B in one buffer, one sin and one cos call)
        x = a.new_empty(n + u * k * m)  # A (U, R, K) | B (U, K, M)
        torch.addcmul(phi.unsqueeze(1), w.unsqueeze(1), c_r, out=x[:n].view(u, r, k))
        torch.mul(w.unsqueeze(-1), c_m, out=x[n:].view(u, k, m))
        sin, cos = torch.sin(x), torch.cos(x)
        s, c = sin[:n].view(u, r, k), cos[:n].view(u, r, k)
        torch.stack((cos[n:].view(u, k, m), sin[n:].view(u, k, m)), 1, out=q.view(u, 2, k, m))
    torch.stack((s, c, s), 2, out=sa)  # [sin A, cos A] = sa[:, :, :2]; [cos A, sin A] = [1:]
    a = a.unsqueeze(1)
    return torch.stack((s.mul_(a), c.mul_(a)), 2).view(u, r, 2 * k)  # s, c no longer needed


def grad_tail(sa: Tensor, h: Tensor, a: Tensor, out: Tensor) -> None:
    """Fills ``out`` (U, 3, K) with [da, dphi, dw] from ``sa`` (see :func:`synth_core`) and
    h (U, 2, R, 2, K) = [g ; g j/D] x R x [sum_m . cos B, sum_m . sin B] x K."""
    torch.sum(sa[:, :, :2] * h[:, 0], (1, 2), out=out[:, 0])  # sin A Hc + cos A Hs
    t = (sa[:, None, :, 1:] * h).sum(2)  # [cos A Hc, sin A Hs] for g and g j/D
    torch.mul(t[:, :, 0] - t[:, :, 1], a.unsqueeze(1), out=out[:, 1:])


def _synth_fused(
    a: Tensor, w: Tensor, phi: Tensor, c_r: Tensor, c_m: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`synth_core` written for torch.compile (no buffers or in-place ops to fuse around)."""
    (u, k), r, m = a.shape, c_r.shape[0], c_m.shape[0]
    x = phi.unsqueeze(1) + w.unsqueeze(1) * c_r
    s, c = torch.sin(x), torch.cos(x)
    x = w.unsqueeze(-1) * c_m
    q = torch.stack((torch.cos(x), torch.sin(x)), 1).view(u, 2 * k, m)
    p = (torch.stack((s, c), 2) * a.view(u, 1, 1, k)).view(u, r, 2 * k)
    return p, torch.stack((s, c, s), 2), q


def _tail_fused(sa: Tensor, h: Tensor, a: Tensor) -> Tensor:
    """:func:`grad_tail` written for torch.compile."""
    sin_a, cos_a = sa[:, :, 0].unsqueeze(1), sa[:, :, 1].unsqueeze(1)
    hc, hs = h[:, :, :, 0], h[:, :, :, 1]
    s = (sin_a * hc + cos_a * hs)[:, 0].sum(1)
    cw = (cos_a * hc - sin_a * hs).sum(2) * a.unsqueeze(1)
    return torch.cat((s.unsqueeze(0), cw.transpose(0, 1)))


def _blocks(row_size: int, *tensors: Tensor) -> Iterator[tuple[Tensor, ...]]:
    """The tensors cut in row blocks of about 2^18 numbers per row-sized tensor: the eager path's
    temporaries stay small (cache-resident, recycled by the allocator instead of page-faulted
    in each call). One block: the tensors themselves (no slicing calls)."""
    u, step = tensors[0].shape[0], max(1, (1 << 18) // row_size)
    if step >= u:
        yield tensors
        return
    for i in range(0, u, step):
        yield tuple(t[i : i + step] for t in tensors)


def forward_body(
    a: Tensor,
    w: Tensor,
    phi: Tensor,
    inverse: Tensor | None,
    consts: tuple[Tensor, ...],
    d: int,
    fused: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """Rows (U, D) of the table, gathered by ``inverse`` if given; and what backward keeps."""
    c_r, c_m, _ = consts
    (u, k), r, m = a.shape, c_r.shape[0], c_m.shape[0]
    if fused:
        p, sa, q = _synth_fused(a, w, phi, c_r, c_m)
        table = torch.bmm(p, q).view(u, r * m)
    else:
        sa = torch.empty(u, r, 3, k, dtype=a.dtype, device=a.device)
        q = torch.empty(u, 2 * k, m, dtype=a.dtype, device=a.device)
        table = torch.empty(u, r * m, dtype=a.dtype, device=a.device)
        for a_, w_, phi_, sa_, q_, table_ in _blocks(r * m, a, w, phi, sa, q, table):
            p = synth_core(a_, w_, phi_, c_r, c_m, sa_, q_)
            torch.bmm(p, q_, out=table_.view(-1, r, m))
    if r * m != d:
        table = table[:, :d]
    if inverse is None:
        return table.contiguous(), sa, q
    return table.index_select(0, inverse.reshape(-1)), sa, q


def backward_body(
    a: Tensor,
    sa: Tensor,
    q: Tensor,
    inverse: Tensor | None,
    grad: Tensor,
    consts: tuple[Tensor, ...],
    d: int,
    fused: bool = False,
) -> Tensor:
    """[da ; dphi ; dw] (3, U, K) for the synthesized rows from the output gradient (N, D)."""
    (u, k), (_, r, m) = a.shape, consts[2].shape
    if inverse is None:
        g = grad if r * m == d else torch.nn.functional.pad(grad, (0, r * m - d))
    else:
        g = torch.zeros(u, r * m, dtype=grad.dtype, device=grad.device)
        (g if r * m == d else g[:, :d]).index_add_(0, inverse.reshape(-1), grad)
    if fused:
        g2 = g.view(u, 1, r, m) * consts[2]  # (U, 2, R, M) = [g ; g j/D]
        h = torch.bmm(g2.view(u, 2 * r, m), q.transpose(1, 2)).view(u, 2, r, 2, k)
        return _tail_fused(sa, h, a)
    out = torch.empty(3, u, k, dtype=a.dtype, device=a.device)
    for a_, sa_, q_, g_, out_ in _blocks(r * m, a, sa, q, g, out.transpose(0, 1)):
        g2 = g_.view(-1, 1, r, m) * consts[2]  # (U, 2, R, M) = [g ; g j/D]
        h = torch.bmm(g2.view(-1, 2 * r, m), q_.transpose(1, 2)).view(-1, 2, r, 2, k)
        grad_tail(sa_, h, a_, out_)
    return out


Bodies = tuple[Callable[..., tuple[Tensor, Tensor, Tensor]], Callable[..., Tensor]]
_compiled: Bodies | None = None


def _bodies(compiled: bool) -> Bodies:
    """The forward and backward bodies, eager or (lazily, once per process) compiled."""
    global _compiled
    if not compiled:
        return forward_body, backward_body
    if _compiled is None:
        _compiled = (
            torch.compile(functools.partial(forward_body, fused=True), dynamic=True),
            torch.compile(functools.partial(backward_body, fused=True), dynamic=True),
        )
    return _compiled


def _run(compiled: bool, stage: int, *args: Any) -> Any:
    """Run a body; if compilation fails, warn once and fall back to the eager one for good."""
    global _compiled
    try:
        return _bodies(compiled)[stage](*args)
    except Exception as exc:  # compiler missing or unsupported here: exact eager fallback
        if not compiled or _compiled == (forward_body, backward_body):
            raise
        warnings.warn(f"HPE: torch.compile failed ({exc!r}); using eager", stacklevel=3)
        _compiled = (forward_body, backward_body)
        return _compiled[stage](*args)


class FastSynthesis(torch.autograd.Function):
    """(a, w, phi) of shape (V, K) -> rows ``unique`` of the table, gathered by ``inverse``.

    ``unique=None`` synthesizes all V rows; ``inverse=None`` returns the synthesized rows
    themselves instead of gathering them. Gradients are returned for all V rows (zero where
    a row was not used).
    """

    @staticmethod
    def forward(
        ctx: Any,
        a: Tensor,
        w: Tensor,
        phi: Tensor,
        unique: Tensor | None,
        inverse: Tensor | None,
        d: int,
        compiled: bool = False,
    ) -> Tensor:
        m, r = split_dim(d)
        consts = _constants(d, m, r, a.dtype, a.device)
        ctx.vocab_size, ctx.consts, ctx.d, ctx.compiled = a.shape[0], consts, d, compiled
        if unique is not None:
            a, w, phi = (t.index_select(0, unique) for t in (a, w, phi))
        out, sa, q = _run(compiled, 0, a, w, phi, inverse, consts, d)
        ctx.save_for_backward(a, sa, q, unique, inverse)
        return out if inverse is None else out.view(*inverse.shape, d)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        a, sa, q, unique, inverse = ctx.saved_tensors
        grad = grad.reshape(-1, ctx.d)
        out = _run(ctx.compiled, 1, a, sa, q, inverse, grad, ctx.consts, ctx.d)
        if unique is not None:
            full = torch.zeros(3, ctx.vocab_size, a.shape[1], dtype=a.dtype, device=a.device)
            out = full.index_copy_(1, unique, out)
        return out[0], out[2], out[1], None, None, None, None
