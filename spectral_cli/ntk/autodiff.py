"""Generic empirical NTKs by autodiff, for any ``nn.Module``: ``vmap(jacrev)`` and the per-sample
loop (the reference the structured NTK is tested against); see :mod:`spectral_cli.ntk.empirical`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

DEFAULT_JAC_BLOCK_BYTES = 512 * 2**20


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _as_2d(x: Tensor) -> Tensor:
    return x[:, None] if x.dim() == 1 else x


def _split_params(model: nn.Module) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    theta = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    if not theta:
        raise ValueError("the model has no trainable parameters: its NTK is zero")
    rest = {k: p.detach() for k, p in model.named_parameters() if not p.requires_grad}
    rest.update(dict(model.named_buffers()))
    return theta, rest


def ntk_jacrev(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    block_size: int | None = None,
    max_block_bytes: int = DEFAULT_JAC_BLOCK_BYTES,
) -> Tensor:
    """Empirical NTK of any module via ``vmap(jacrev)`` over blocks of ``B`` points.

    ``model(x)`` takes a batch ``[n, ...]`` and returns ``[n, ...]`` (``O`` outputs per point,
    traced). ``B`` defaults to ``max_block_bytes // (O P s)`` (at least 1). Memory (bytes)::

        s * (N1 N2  +  2 B O P)  +  vmap/autograd intermediates (~ B O x activations)

    for ``P`` trainable parameters: two Jacobian blocks live at a time (one row, one column block);
    column blocks are recomputed per row block (an O(1/B) overhead next to the contraction).
    """
    theta, rest = _split_params(model)
    dtype = next(iter(theta.values())).dtype
    n_params = sum(p.numel() for p in theta.values())
    sym = x2 is None
    x1 = x1.to(dtype)
    x2 = x1 if x2 is None else x2.to(dtype)

    def f(params: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(model, (params, rest), (x[None],)).reshape(-1)

    with torch.no_grad():
        n_out = f(theta, x1[0]).numel()
    if block_size is None:
        block_size = max(1, max_block_bytes // (n_out * n_params * dtype.itemsize))
    block = int(block_size)
    if block < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    jac_fn = vmap(jacrev(f), in_dims=(None, 0))

    def jac(x: Tensor) -> list[Tensor]:
        j = jac_fn(theta, x)
        return [j[k].reshape(x.shape[0], -1) for k in theta]

    def contract(j1: list[Tensor], j2: list[Tensor]) -> Tensor:
        out = j1[0] @ j2[0].T
        for a, b in zip(j1[1:], j2[1:], strict=True):
            out.addmm_(a, b.T)
        return out

    n1, n2 = x1.shape[0], x2.shape[0]
    out = torch.empty(n1, n2, dtype=dtype, device=x1.device)
    for s, e in _blocks(n1, block):
        j1 = jac(x1[s:e])
        for s2, e2 in _blocks(n2, block):
            if sym and s2 < s:
                continue
            j2 = j1 if (sym and s2 == s) else jac(x2[s2:e2])
            blk = contract(j1, j2)
            if sym and s2 == s:
                blk = 0.5 * (blk + blk.T)  # GEMM rounding is not symmetric
            out[s:e, s2:e2] = blk
            if sym and s2 != s:
                out[s2:e2, s:e] = blk.T
            del j2
    return out


def ntk_autograd_loop(model: nn.Module, x1: Tensor, x2: Tensor | None = None) -> Tensor:
    """Brute-force reference: per-sample ``autograd.grad`` rows of the Jacobian, ``K = J1 J2^T``.

    Scalar-output models only. Memory ``s * (N1 + N2) * P`` bytes (``N1 P`` when ``x2 is None``).
    """
    theta = [p for p in model.parameters() if p.requires_grad]
    if not theta:
        raise ValueError("the model has no trainable parameters: its NTK is zero")
    dtype = theta[0].dtype
    n_params = sum(p.numel() for p in theta)

    def jacobian(x: Tensor) -> Tensor:
        x = x.to(dtype)
        rows = torch.empty(x.shape[0], n_params, dtype=dtype, device=theta[0].device)
        for i in range(x.shape[0]):
            y = model(x[i : i + 1])
            if y.numel() != 1:
                raise ValueError("ntk_autograd_loop needs a scalar-output model")
            grads = torch.autograd.grad(y.reshape(()), theta, allow_unused=True)
            flat = [
                (g if g is not None else torch.zeros_like(p)).reshape(-1)
                for g, p in zip(grads, theta, strict=True)
            ]
            rows[i] = torch.cat(flat)
        return rows

    j1 = jacobian(x1)
    return j1 @ (j1 if x2 is None else jacobian(x2)).T
