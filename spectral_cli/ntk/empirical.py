"""Empirical neural tangent kernel K[i, j] = sum_theta <df(x_i)/dtheta, df(x_j)/dtheta>.

Three implementations, all returning ``[N1, N2]`` in the model's parameter dtype:

* :func:`ntk_structured` -- the fast path for :class:`~spectral_cli.ntk.mlp.NTKMLP`. For a
  Linear layer ``z = c_w a W^T + c_b b`` the per-sample gradients are ``df/dW = c_w delta a^T`` and
  ``df/db = c_b delta`` (``delta = df/dz``), so the layer contributes the Hadamard product
  ``(c_w^2 A1 A2^T + c_b^2) * (D1 D2^T)`` and the Jacobian (N x P) is never built. Cost
  ``O(N1 N2 sum_l (fan_in_l + fan_out_l))`` instead of ``O(N1 N2 P)``.
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

from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from spectral_cli.ntk.mlp import NTKMLP, mlp_backward_deltas, mlp_forward_trace

DEFAULT_STRUCTURED_BLOCK = 256
DEFAULT_JAC_BLOCK_BYTES = 512 * 2**20


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _as_2d(x: Tensor) -> Tensor:
    return x[:, None] if x.dim() == 1 else x


def _mlp_features(model: NTKMLP, x: Tensor, block: int) -> tuple[list[Tensor], list[Tensor]]:
    """Layer inputs ``A_l`` and back-propagated ``D_l = df/dz_l`` (last layer's D = 1 omitted).

    Filled block by block into preallocated tensors, so only one block's pre-activations are
    alive at a time.
    """
    n = x.shape[0]
    dtype = model.layers[0].weight.dtype
    device = model.layers[0].weight.device
    acts = [torch.empty(n, layer.in_features, dtype=dtype, device=device) for layer in model.layers]
    deltas = [
        torch.empty(n, layer.out_features, dtype=dtype, device=device)
        for layer in model.layers[:-1]
    ]
    for s, e in _blocks(n, block):
        trace = mlp_forward_trace(model, x[s:e])
        for dst, src in zip(acts, trace.inputs, strict=True):
            dst[s:e] = src
        for dst, src in zip(deltas, mlp_backward_deltas(model, trace)[:-1], strict=True):
            dst[s:e] = src
    return acts, deltas


def _structured_block(
    coefs: list[tuple[float, float]],
    a1: list[Tensor],
    d1: list[Tensor],
    a2: list[Tensor],
    d2: list[Tensor],
) -> Tensor:
    """sum_l (cw2_l A1_l A2_l^T + cb2_l) * (D1_l D2_l^T) for one block pair (3 [B1, B2] buffers)."""
    last = len(coefs) - 1
    cw2, cb2 = coefs[last]
    out = torch.empty(a1[0].shape[0], a2[0].shape[0], dtype=a1[0].dtype, device=a1[0].device)
    out.fill_(cb2).addmm_(a1[last], a2[last].T, alpha=cw2)  # D = 1 for the scalar output layer
    if last == 0:
        return out
    ga, gd = torch.empty_like(out), torch.empty_like(out)
    for i in range(last):
        cw2, cb2 = coefs[i]
        ga.fill_(cb2).addmm_(a1[i], a2[i].T, alpha=cw2)
        torch.mm(d1[i], d2[i].T, out=gd)
        out.addcmul_(ga, gd)
    return out


@torch.no_grad()
def ntk_structured(
    model: NTKMLP, x1: Tensor, x2: Tensor | None = None, *, block_size: int | None = None
) -> Tensor:
    """Empirical NTK of an :class:`NTKMLP` from layer-wise activations and back-prop gradients.

    Memory (bytes; ``s`` = itemsize of the model dtype, ``B = min(block_size, N1)``,
    ``F = d_in + 2 (depth - 1) W`` stored features per point: every layer's input and every hidden
    layer's back-propagated gradient)::

        s * (N1 N2  +  N2 F  +  B F  +  3 B N2)

    i.e. the output, the features of x2 (of x1 when ``x2 is None``; no extra block then), one
    block of x1's features and three ``[B, N2]`` Gram buffers (plus one block's pre-activations
    while features are computed). ``N = 10_000, W = 512, depth = 4, d_in = 32``, float64, default
    ``B = 256``: 0.80 + 0.25 + 0.006 + 0.06 GB, about 1.1 GB; the Jacobian alone would be 43 GB.
    Small row blocks also let the symmetric case skip the blocks below the diagonal (3/8 of the
    work at N = 1024) at little cost in GEMM efficiency.
    """
    block = int(block_size or DEFAULT_STRUCTURED_BLOCK)
    if block < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    coefs = [  # squared gradient factors; frozen parameters (requires_grad=False) do not count
        (c_w * c_w * layer.weight.requires_grad, c_b * c_b * layer.bias.requires_grad)
        for layer, (c_w, c_b) in zip(model.layers, model.layer_scales(), strict=True)
    ]
    sym = x2 is None
    x1 = _as_2d(x1)
    a2, d2 = _mlp_features(model, x1 if sym else _as_2d(x2), block)
    n1 = x1.shape[0]
    n2 = a2[0].shape[0]
    out = torch.empty(n1, n2, dtype=a2[0].dtype, device=a2[0].device)
    for s, e in _blocks(n1, block):
        if sym:
            a1 = [a[s:e] for a in a2]
            d1 = [d[s:e] for d in d2]
            blk = _structured_block(coefs, a1, d1, [a[s:] for a in a2], [d[s:] for d in d2])
            diag = blk[:, : e - s]
            out[s:e, s:e] = 0.5 * (diag + diag.T)  # GEMM rounding is not symmetric
            out[s:e, e:] = blk[:, e - s :]
            out[e:, s:e] = blk[:, e - s :].T
        else:
            a1, d1 = _mlp_features(model, x1[s:e], block)
            out[s:e] = _structured_block(coefs, a1, d1, a2, d2)
    return out


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
    x2 = x1 if sym else x2.to(dtype)

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


Method = Literal["auto", "structured", "jacrev", "loop"]


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
