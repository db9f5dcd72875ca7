"""Exactness of the fast NTK paths: the structured empirical kernel against independent references
at N = 128 and 1024 (one and two worker threads), and the analytic ReLU NTK against a 50-digit
mpmath evaluation of the same recursion (the diagonal, where cos(theta) = 1, in particular)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import mpmath
import pytest
import torch

from spectral_cli.ntk.analytic import analytic_relu_kernels, analytic_relu_ntk
from spectral_cli.ntk.empirical import (
    empirical_ntk,
    ntk_autograd_loop,
    ntk_jacrev,
    ntk_structured,
)
from spectral_cli.ntk.mlp import NTKMLP

F64 = torch.float64


@pytest.fixture
def threads() -> Iterator[None]:
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)


def _model(
    d: int,
    width: int,
    depth: int,
    w: float = 1.3,
    b: float = 0.4,
    seed: int = 0,
    par: str = "ntk",
    dtype: torch.dtype = F64,
) -> NTKMLP:
    gen = torch.Generator().manual_seed(seed)
    return NTKMLP(d, width, depth, par, w, b, generator=gen, dtype=dtype)  # type: ignore[arg-type]


def _rel(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a - ref).abs().max() / ref.abs().max())


# ---------------------------------------------------------------- structured empirical NTK


@pytest.mark.parametrize("n_threads", [1, 2])
def test_structured_matches_loop_at_n128(threads: None, n_threads: int) -> None:
    torch.set_num_threads(n_threads)
    model = _model(6, 24, 4)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(128, 6, dtype=F64, generator=gen)
    y = torch.randn(37, 6, dtype=F64, generator=gen)
    K, ref = ntk_structured(model, x), ntk_autograd_loop(model, x)
    assert torch.equal(K, K.T)
    assert _rel(K, ref) < 1e-12
    assert _rel(ntk_structured(model, y, x), ntk_autograd_loop(model, y, x)) < 1e-12
    assert torch.get_num_threads() == n_threads  # the worker threads leave the count alone


@pytest.mark.parametrize("n_threads", [1, 2])
def test_structured_matches_jacrev_at_n1024(threads: None, n_threads: int) -> None:
    torch.set_num_threads(n_threads)
    model = _model(4, 16, 3, w=math.sqrt(2.0), b=0.1, seed=3)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1024, 4, dtype=F64, generator=gen)
    K = ntk_structured(model, x)
    assert K.shape == (1024, 1024) and torch.equal(K, K.T)
    assert _rel(K, ntk_jacrev(model, x)) < 1e-12
    # several tiles and row chunks, N1 != N2, neither a multiple of the tile
    x2 = x[:300]
    assert _rel(ntk_structured(model, x[:700], x2), ntk_jacrev(model, x[:700], x2)) < 1e-12
    assert _rel(ntk_structured(model, x[:700], x2), K[:700, :300]) < 1e-14


def test_structured_threaded_paths_agree_with_one_thread(threads: None) -> None:
    model = _model(5, 32, 4, seed=4)
    model.layers[2].bias.requires_grad_(False)  # frozen parameters are not theta
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(300, 5, dtype=F64, generator=gen)
    torch.set_num_threads(1)
    one = ntk_structured(model, x)
    torch.set_num_threads(2)
    two = ntk_structured(model, x)
    small = ntk_structured(model, x, block_size=7)
    assert _rel(two, one) < 1e-14 and _rel(small, one) < 1e-14
    assert torch.equal(two, two.T) and torch.equal(small, small.T)
    assert _rel(one[:40, :40], ntk_autograd_loop(model, x[:40])) < 1e-12


def test_structured_leaves_thread_state_and_grad_mode(threads: None) -> None:
    torch.set_num_threads(2)
    model = _model(3, 16, 3, par="standard")
    x = torch.randn(200, 3, dtype=F64, generator=torch.Generator().manual_seed(6))
    K = empirical_ntk(model, x)  # grad mode on: the result still carries no graph
    assert not K.requires_grad
    seen: list[int] = []
    t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    t.start()
    t.join()
    assert torch.get_num_threads() == 2 and seen == [2]  # new threads get the default, too


def test_structured_float32_threaded() -> None:
    model = _model(3, 32, 3, dtype=torch.float32)
    x = torch.randn(160, 3, generator=torch.Generator().manual_seed(7))
    K = ntk_structured(model, x)
    assert K.dtype == torch.float32 and torch.equal(K, K.T)
    assert _rel(K, ntk_jacrev(model, x)) < 1e-5


# ---------------------------------------------------------------- analytic ReLU NTK


def _mp_relu_ntk(
    x1: torch.Tensor, x2: torch.Tensor, depth: int, w_std: float, b_std: float
) -> list[list[mpmath.mpf]]:
    """The recursion of :mod:`spectral_cli.ntk.analytic` in 50-digit arithmetic, pair by pair,
    from the float64 inputs taken exactly."""
    with mpmath.workdps(50):
        w2, b2, pi = mpmath.mpf(w_std) ** 2, mpmath.mpf(b_std) ** 2, mpmath.pi
        d = x1.shape[1]
        rows = [[mpmath.mpf(v) for v in r] for r in x1.tolist()]
        cols = [[mpmath.mpf(v) for v in r] for r in x2.tolist()]
        out = []
        for a in rows:
            line = []
            for b in cols:
                q1 = w2 * mpmath.fsum(u * u for u in a) / d + b2
                q2 = w2 * mpmath.fsum(u * u for u in b) / d + b2
                c = w2 * mpmath.fsum(u * v for u, v in zip(a, b, strict=True)) / d + b2
                ntk = c
                for _ in range(depth - 1):
                    norm = mpmath.sqrt(q1 * q2)
                    cos = max(min(c / norm, mpmath.mpf(1)), mpmath.mpf(-1))
                    th = mpmath.acos(cos)
                    c = w2 * norm * (mpmath.sin(th) + (pi - th) * cos) / (2 * pi) + b2
                    ntk = c + w2 * (pi - th) / (2 * pi) * ntk
                    q1, q2 = w2 * q1 / 2 + b2, w2 * q2 / 2 + b2
                line.append(ntk)
            out.append(line)
        return out


def _mp_rel_errors(K: torch.Tensor, ref: list[list[mpmath.mpf]]) -> torch.Tensor:
    with mpmath.workdps(50):
        return torch.tensor(
            [
                [float(abs((mpmath.mpf(float(k)) - r) / r)) for k, r in zip(row, rr, strict=True)]
                for row, rr in zip(K.tolist(), ref, strict=True)
            ],
            dtype=F64,
        )


@pytest.mark.parametrize(
    ("depth", "w_std", "b_std"), [(2, 1.0, 0.0), (4, math.sqrt(2.0), 0.1), (8, 1.3, 0.4)]
)
def test_analytic_ntk_diagonal_exact_against_50_digits(
    depth: int, w_std: float, b_std: float
) -> None:
    gen = torch.Generator().manual_seed(depth)
    x = torch.randn(5, 7, dtype=F64, generator=gen)
    err = _mp_rel_errors(
        analytic_relu_ntk(x, depth=depth, w_std=w_std, b_std=b_std),
        _mp_relu_ntk(x, x, depth, w_std, b_std),
    )
    assert float(err.diagonal().max()) <= 1e-12  # was ~1e-8 with arccos(c / sqrt(q q'))
    assert float(err.max()) <= 1e-12
    # a cross kernel whose x2 repeats points of x1: those pairs are diagonal entries too
    y = torch.cat([x[[3, 0]], torch.randn(2, 7, dtype=F64, generator=gen)])
    err = _mp_rel_errors(
        analytic_relu_ntk(x, y, depth=depth, w_std=w_std, b_std=b_std),
        _mp_relu_ntk(x, y, depth, w_std, b_std),
    )
    assert float(err[3, 0]) <= 1e-12 and float(err[0, 1]) <= 1e-12
    assert float(err.max()) <= 1e-12


def test_analytic_diagonal_closed_form() -> None:
    # identical points: E[relu' relu'] = 1/2 and E[relu relu] = q / 2 at every layer, so with
    # b_std = 0 the NTK diagonal is depth * w^(2 depth) |x|^2 / (d 2^(depth - 1))
    x = torch.tensor([[0.3, -1.1, 2.0], [1.0, 1.0, 1.0]], dtype=F64)
    depth, w = 5, 1.7
    k = analytic_relu_kernels(x, depth=depth, w_std=w, b_std=0.0)
    q = w**2 * (x * x).sum(1) / 3
    expect = depth * q * (w**2 / 2) ** (depth - 1)
    assert torch.allclose(k.ntk.diagonal(), expect, rtol=1e-14, atol=0)
    assert torch.allclose(k.nngp.diagonal(), q * (w**2 / 2) ** (depth - 1), rtol=1e-14, atol=0)
