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
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from spectral_cli.ntk.mlp import NTKMLP

DEFAULT_JAC_BLOCK_BYTES = 512 * 2**20
MAX_STRUCTURED_TILE = 256  # CPU: a [256, 256] float64 tile is 512 KiB, an L2's worth
DEVICE_STRUCTURED_TILE = 4096  # CUDA and other devices: few, large launches


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _as_2d(x: Tensor) -> Tensor:
    return x[:, None] if x.dim() == 1 else x


# ------------------------------------------------------------------ worker threads (CPU)
#
# torch's intra-op threads synchronize at the end of every operation; on a busy machine one
# descheduled thread stalls the others, and a 128 x 512 x 128 GEMM that takes 0.8 ms on one
# thread took 20 ms on two. The structured NTK splits its work into independent pieces instead
# (row chunks of the forward/backward pass, tiles of the kernel) and runs them on
# ``torch.get_num_threads()`` worker threads, each with one intra-op thread: no barrier per
# operation, and a busy core simply takes fewer pieces.

_POOL: ThreadPoolExecutor | None = None
_POOL_KEY: tuple[int, int] = (0, 0)  # (pid, size): a forked child builds its own pool
_POOL_LOCK = threading.Lock()


@functools.cache
def _per_thread_counts() -> bool:
    """Whether torch's intra-op thread count is per thread (the OpenMP backend), which the
    worker threads need; with the native thread pool it is process-wide."""
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


def _cpu_threads() -> int:
    """Worker threads for the structured NTK on the CPU: torch's intra-op thread count."""
    return torch.get_num_threads() if _per_thread_counts() else 1


def _worker_pool(n: int) -> ThreadPoolExecutor:
    """A pool of ``n`` threads whose torch intra-op thread count is 1 (created once)."""
    global _POOL, _POOL_KEY
    with _POOL_LOCK:
        if _POOL is None or (os.getpid(), n) != _POOL_KEY:
            keep = torch.get_num_threads()
            pool = ThreadPoolExecutor(
                n, thread_name_prefix="spectral-ntk", initializer=torch.set_num_threads,
                initargs=(1,),
            )
            # start all n threads now: the barrier keeps each task until n threads exist
            barrier = threading.Barrier(n)
            for fut in [pool.submit(barrier.wait, 60) for _ in range(n)]:
                fut.result()
            # torch.set_num_threads also sets the default of threads started later: restore it
            # (each worker keeps its own count of 1; this thread's count is unchanged)
            torch.set_num_threads(keep)
            if _POOL is not None and _POOL_KEY[0] == os.getpid():
                _POOL.shutdown(wait=False)
            _POOL, _POOL_KEY = pool, (os.getpid(), n)
        return _POOL


def _run_tasks(tasks: list[Callable[[], None]], threads: int) -> None:
    """Run independent ``tasks`` (no autograd) on this thread and ``threads - 1`` helpers.

    Every thread takes the next task when it is done with one, and this thread returns as soon
    as every task is done: a helper that the scheduler wakes late finds nothing left and is not
    waited for. This thread works with one intra-op thread meanwhile (restored after); with
    ``threads <= 1`` or a single task everything runs inline, unchanged.
    """
    if threads <= 1 or len(tasks) <= 1:
        with torch.no_grad():
            for task in tasks:
                task()
        return
    queue = iter(tasks)
    lock = threading.Lock()
    done = threading.Event()
    state = {"left": len(tasks)}
    errors: list[BaseException] = []

    def drain() -> None:
        with torch.no_grad():  # grad mode is per thread
            while True:
                with lock:
                    task = next(queue, None)
                if task is None:
                    return
                try:
                    if not errors:  # after a failure the rest is skipped
                        task()
                except BaseException as exc:  # re-raised by the caller
                    errors.append(exc)
                with lock:
                    state["left"] -= 1
                    if state["left"] == 0:
                        done.set()

    pool = _worker_pool(threads - 1)
    for _ in range(min(threads, len(tasks)) - 1):
        pool.submit(drain)
    keep = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        drain()
    finally:
        torch.set_num_threads(keep)
        done.wait()
    if errors:
        raise errors[0]


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
    layers = list(model.layers)
    scales = model.layer_scales()
    last = len(layers) - 1
    x = model._check_input(x)
    n = x.shape[0]
    kw = {"dtype": x.dtype, "device": x.device}
    acts = [x] + [torch.empty(n, layer.out_features, **kw) for layer in layers[:-1]]
    deltas = [torch.empty(n, layer.out_features, **kw) for layer in layers[:-1]]
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
    _run_tasks([lambda s=s, e=e: rows(s, e) for s, e in _blocks(n, step)], threads)
    return _Features(acts=acts, deltas=deltas)


def _layer_coefficients(model: NTKMLP) -> list[tuple[float, float, float]]:
    """Per layer ``(cw2, cb2, s2)``: the layer adds ``(cw2 A A^T + cb2) * s2 (Dhat Dhat^T)``.

    ``cw2 = c_w^2``, ``cb2 = c_b^2`` (0 for frozen parameters, which are not theta) and ``s2 =
    prod_{k > l} c_w(k)^2`` (1 for the last layer, whose delta is 1).
    """
    scales = model.layer_scales()
    out = []
    s2 = 1.0
    for layer, (c_w, c_b) in reversed(list(zip(model.layers, scales, strict=True))):
        out.append((c_w * c_w * layer.weight.requires_grad, c_b * c_b * layer.bias.requires_grad,
                    s2))
        s2 *= c_w * c_w
    return out[::-1]


def _kernel_tile(
    coefs: list[tuple[float, float, float]], f1: _Features, f2: _Features,
    r: tuple[int, int], c: tuple[int, int], acc: Tensor,
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
    thread each (see the comment above :func:`_worker_pool`); elsewhere in one stream.

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
    device = model.layers[0].weight.device
    threads = _cpu_threads() if device.type == "cpu" else 1
    f1 = _mlp_gram_factors(model, x1, threads)
    f2 = f1 if sym else _mlp_gram_factors(model, _as_2d(x2), threads)
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
        lambda r=r, c=c: one(r, c)
        for i, r in enumerate(rows)
        for j, c in enumerate(cols)
        if not (sym and j < i)
    ]
    _run_tasks(tasks, threads)
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
