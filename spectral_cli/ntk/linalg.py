"""Kernel algebra in float64 on CPU: spectrum, regularized solves, NTK regression, GD dynamics.

Everything here works on the eigendecomposition ``K = Q diag(lambda) Q^T`` of the (symmetrized)
train kernel, computed once with ``torch.linalg.eigh`` in float64; eigenvalues are returned in
descending order. Inputs on any device/dtype are copied to CPU float64; results are CPU float64.

Regularizer (documented contract). Solves use ``K + eps I`` with::

    eps = diag_reg * trace(K) / n                          (neural-tangents' relative diag_reg)
    if cond = (lambda_max + eps) / (max(lambda_min, 0) + eps) > max_cond:
        warn NearSingularKernelWarning
        eps = max(eps, lambda_max / max_cond)              (so the solve's cond <= ~max_cond)

Eigenvalues below zero (round-off of a PSD kernel) are clipped to 0 first. Defaults:
``diag_reg = 0`` (exact solve of a well-conditioned kernel) and ``max_cond = 1e10``: a float64 solve
then loses at most ~10 of its ~16 digits. A near-singular kernel (duplicate points, p = inf toy
features, very deep nets) therefore gives a warning and a finite, slightly regularized answer,
never NaN/inf. A kernel that is exactly zero raises ``ValueError``.

Gradient-descent dynamics. Loss convention: ``L(theta) = 1/2 sum_i (f(x_i) - y_i)^2`` (a *sum*,
as in Tancik et al.'s code), plain GD ``theta <- theta - lr grad L``. The linearized network then
follows (t in steps; f0 = outputs at initialization, 0 in the original document's formula)::

    f_train(t) = f0_train + (I - e^{-lr K t}) (y - f0_train)
    f_test(t)  = f0_test  + K_test K^{-1} (I - e^{-lr K t}) (y - f0_train)

(``discrete=True`` replaces ``e^{-lr K t}`` by ``(I - lr K)^t``, exact for the linearized model
under discrete steps). For a *mean* loss ``1/(2n) sum_i`` pass ``lr / n`` (and ``2 lr / n`` for
``1/n sum_i``, PyTorch's ``MSELoss``). ``K^{-1}(I - e^{-lr K t}) = Q diag((1 - e^{-lr lambda t}) /
lambda) Q^T`` is finite for every finite t (-> ``lr t`` as lambda -> 0), so no regularizer is
needed there; ``t = inf`` is kernel regression and uses the regularized ``1 / (lambda + eps)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

DEFAULT_DIAG_REG = 0.0
DEFAULT_MAX_COND = 1e10


class NearSingularKernelWarning(UserWarning):
    """The kernel's condition number exceeds ``max_cond``; a diagonal regularizer was added."""


@dataclass(frozen=True)
class KernelEigen:
    """``K = eigvecs diag(eigvals) eigvecs^T``; float64, eigenvalues descending."""

    eigvals: Tensor
    eigvecs: Tensor

    @property
    def condition_number(self) -> float:
        """lambda_max / lambda_min (inf when lambda_min <= 0)."""
        lo = float(self.eigvals[-1])
        return float("inf") if lo <= 0 else float(self.eigvals[0]) / lo


def kernel_eigh(K: Tensor) -> KernelEigen:
    """Eigendecomposition of a symmetric kernel in float64 (symmetrized first), descending."""
    if K.dim() != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"expected a square kernel matrix, got shape {tuple(K.shape)}")
    K = K.to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(K).all():
        raise ValueError("kernel has non-finite entries")
    vals, vecs = torch.linalg.eigh(0.5 * (K + K.T))
    return KernelEigen(eigvals=vals.flip(0), eigvecs=vecs.flip(1))


def choose_ridge(
    eig: KernelEigen, *, diag_reg: float = DEFAULT_DIAG_REG, max_cond: float = DEFAULT_MAX_COND
) -> float:
    """The diagonal regularizer eps of the module docstring; warns when K is near-singular."""
    if diag_reg < 0 or max_cond <= 1:
        raise ValueError(f"need diag_reg >= 0 and max_cond > 1, got {diag_reg}, {max_cond}")
    lam = eig.eigvals.clamp(min=0.0)
    lam_max = float(lam[0])
    if lam_max <= 0.0:
        raise ValueError("kernel is zero (all eigenvalues <= 0): nothing to solve")
    eps = diag_reg * float(eig.eigvals.sum()) / eig.eigvals.numel()
    cond = (lam_max + eps) / (float(lam[-1]) + eps) if float(lam[-1]) + eps > 0 else float("inf")
    if cond > max_cond:
        new_eps = max(eps, lam_max / max_cond)
        warnings.warn(
            f"kernel is near-singular (condition number {cond:.3g} > {max_cond:.3g}); "
            f"solving with diagonal regularizer {new_eps:.3g} "
            f"({new_eps / lam_max:.3g} x lambda_max)",
            NearSingularKernelWarning,
            stacklevel=3,
        )
        eps = new_eps
    return eps


def _as_cols(y: Tensor, n: int, name: str = "y") -> tuple[Tensor, bool]:
    """``y`` as float64 ``[n, k]`` and whether it was ``[n]``."""
    y = torch.as_tensor(y).to(device="cpu", dtype=torch.float64)
    if y.dim() not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"{name} must have shape [{n}] or [{n}, k], got {tuple(y.shape)}")
    return (y[:, None], True) if y.dim() == 1 else (y, False)


def kernel_solve(
    K: Tensor,
    y: Tensor,
    *,
    diag_reg: float = DEFAULT_DIAG_REG,
    max_cond: float = DEFAULT_MAX_COND,
    eig: KernelEigen | None = None,
) -> Tensor:
    """``(K + eps I)^{-1} y`` in float64 (``y``: ``[n]`` or ``[n, k]``); see module docstring."""
    eig = eig if eig is not None else kernel_eigh(K)
    eps = choose_ridge(eig, diag_reg=diag_reg, max_cond=max_cond)
    yc, squeeze = _as_cols(y, eig.eigvals.numel())
    Q = eig.eigvecs
    alpha = Q @ ((Q.T @ yc) / (eig.eigvals.clamp(min=0.0) + eps)[:, None])
    return alpha[:, 0] if squeeze else alpha


def ntk_regression(
    K_train: Tensor,
    y_train: Tensor,
    K_test_train: Tensor | None = None,
    *,
    diag_reg: float = DEFAULT_DIAG_REG,
    max_cond: float = DEFAULT_MAX_COND,
    eig: KernelEigen | None = None,
) -> Tensor:
    """Kernel regression ``K_test (K + eps I)^{-1} y`` (train predictions if ``K_test_train=None``).

    ``K_test_train`` is ``[n_test, n_train]``, i.e. ``K(x_test, x_train)``.
    """
    alpha = kernel_solve(K_train, y_train, diag_reg=diag_reg, max_cond=max_cond, eig=eig)
    K = K_train if K_test_train is None else K_test_train
    return K.to(device="cpu", dtype=torch.float64) @ alpha


@dataclass(frozen=True)
class DynamicsPrediction:
    """Predicted outputs at each time: ``train`` [T, n_train(, k)], ``test`` [T, n_test(, k)]."""

    times: Tensor
    train: Tensor
    test: Tensor | None


def _gain(lam: Tensor, times: Tensor, lr: float, discrete: bool, eps: float) -> Tensor:
    """[T, n] factors g with K^{-1}(I - decay) = Q diag(g) Q^T (g -> lr t as lambda -> 0)."""
    step = lr * lam[None, :]
    if discrete:  # 1 - (1 - step)^t, via log1p/expm1 where 1 - step > 0
        stable = step < 1.0
        log_base = torch.log1p(-torch.where(stable, step, torch.zeros_like(step)))
        one_minus = torch.where(
            stable, -torch.expm1(times[:, None] * log_base), 1.0 - (1.0 - step) ** times[:, None]
        )
    else:
        one_minus = -torch.expm1(-step * times[:, None])
    pos = lam[None, :] > 0
    g = torch.where(pos, one_minus / torch.where(pos, lam[None, :], 1.0), lr * times[:, None])
    inf_t = torch.isinf(times)
    if bool(inf_t.any()):
        g[inf_t] = 1.0 / (lam + eps)
    return g


def gd_dynamics(
    K_train: Tensor,
    y_train: Tensor,
    times: Tensor | list[float],
    *,
    lr: float,
    K_test_train: Tensor | None = None,
    f0_train: Tensor | None = None,
    f0_test: Tensor | None = None,
    discrete: bool = False,
    diag_reg: float = DEFAULT_DIAG_REG,
    max_cond: float = DEFAULT_MAX_COND,
    eig: KernelEigen | None = None,
) -> DynamicsPrediction:
    """NTK prediction of full-batch GD after ``t`` steps (module docstring), float64.

    ``times`` may contain ``inf`` (kernel regression limit, regularized as in :func:`kernel_solve`).
    ``y_train`` is ``[n]`` or ``[n, k]`` (k targets at once); ``f0_*`` default to 0.
    """
    times = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    if bool((times < 0).any()) or bool(torch.isnan(times).any()):
        raise ValueError("times must be >= 0")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    eig = eig if eig is not None else kernel_eigh(K_train)
    lam = eig.eigvals.clamp(min=0.0)
    eps = 0.0
    if bool(torch.isinf(times).any()):
        eps = choose_ridge(eig, diag_reg=diag_reg, max_cond=max_cond)
    n = eig.eigvals.numel()
    yc, squeeze = _as_cols(y_train, n, "y_train")
    f0 = torch.zeros_like(yc) if f0_train is None else _as_cols(f0_train, n, "f0_train")[0]
    Q = eig.eigvecs
    r = Q.T @ (yc - f0)  # [n, k]
    g = _gain(lam, times, float(lr), discrete, eps)  # [T, n]
    coef = g[:, :, None] * r[None, :, :]  # [T, n, k]: Q^T-coordinates of K^{-1}(I - decay)(y - f0)
    train = f0[None] + torch.einsum("ij,tjk->tik", Q * lam[None, :], coef)
    test = None
    if K_test_train is not None:
        Kt = K_test_train.to(device="cpu", dtype=torch.float64)
        if Kt.dim() != 2 or Kt.shape[1] != n:
            raise ValueError(f"K_test_train must be [n_test, {n}], got {tuple(Kt.shape)}")
        t0 = torch.zeros(Kt.shape[0], yc.shape[1], dtype=torch.float64)
        if f0_test is not None:
            t0 = _as_cols(f0_test, Kt.shape[0], "f0_test")[0]
        test = t0[None] + torch.einsum("ij,tjk->tik", Kt @ Q, coef)
    if squeeze:
        train = train[..., 0]
        test = None if test is None else test[..., 0]
    return DynamicsPrediction(times=times, train=train, test=test)


def residual_in_eigenbasis(eig: KernelEigen, y_hat: Tensor, y: Tensor) -> Tensor:
    """``Q^T (y_hat - y)``: per eigen-direction residuals (``y_hat`` may carry a leading time axis).

    Under the NTK dynamics component i decays as ``exp(-lr lambda_i t)``.
    """
    return (y_hat.to("cpu", torch.float64) - y.to("cpu", torch.float64)) @ eig.eigvecs
