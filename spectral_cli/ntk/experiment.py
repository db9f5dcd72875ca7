"""Orchestration of ``spectral ntk``: mapping + MLP -> kernel -> spectrum, regression, GD dynamics.

Building blocks shared by the single run and the sweep (:mod:`spectral_cli.ntk.sweep`):

* :func:`build_encoding`, :func:`build_network` -- gamma and the MLP of the config (seeded: the
  Gaussian B from ``seed``, the weights from ``torch.Generator().manual_seed(seed)``).
  ``activation=tanh`` builds :class:`TanhMLP` (same parameters and state-dict layout as
  :class:`~spectral_cli.ntk.mlp.NTKMLP`, tanh instead of ReLU) whose empirical kernel uses
  the generic ``vmap(jacrev)`` path; the analytic kernel refuses it (ReLU only).
* :func:`cross_kernel` -- ``K(a, b)``, empirical (structured path for the ReLU MLP) or analytic
  (infinite width, NTK parameterization): ``K_train`` [n, n] and ``K(x_test, x_train)``
  [n', n]. A run asks :class:`~spectral_cli.ntk.store.KernelStore` for
  them, which computes each once.
* :func:`dynamics` -- the network trained by full-batch GD against the linearized (NTK)
  prediction at the same steps, with the network's own outputs at initialization ``f0``:
  ``f(t) = f0 + (I - e^{-lr K t})(y - f0)`` (train) and ``f0_test + K_test K^{-1}(I -
  e^{-lr K t})(y - f0)`` (test), loss ``1/2 sum (f - y)^2``. The original document's formula is the
  ``f0 = 0`` case; with the network's f0 the comparison is exact for the linearized model.
* "NTK regression" (``test_mse_ntk``) is ``K_test (K + eps I)^{-1} y`` (f0 = 0: the mean over
  initializations, the original document's eq. 3 at t = inf) with the regularizer of ``ntk_linalg``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from spectral_cli.core.errors import BadInput
from spectral_cli.core.evaluation import Observer
from spectral_cli.core.signals import StopFlag
from spectral_cli.ntk.config import NTKModelConfig, NTKRunConfig, resolved_m
from spectral_cli.ntk.encodings import FourierEncoding, make_encoding
from spectral_cli.ntk.gd import GDRecord, train_full_batch
from spectral_cli.ntk.kernels import (
    KernelEigen,
    NearSingularKernelWarning,
    analytic_relu_kernels,
    empirical_ntk,
    gd_dynamics,
    ntk_regression,
    residual_in_eigenbasis,
)
from spectral_cli.ntk.mlp import NTKMLP

DTYPES = {"float64": torch.float64, "float32": torch.float32}


class TanhMLP(nn.Module):
    """NTKMLP's layers and parameterization with tanh between layers (empirical kernels only)."""

    def __init__(self, base: NTKMLP) -> None:
        super().__init__()
        self.layers = base.layers
        self.linears = base.linears()  # the same modules, typed
        self.scales = base.layer_scales()

    def forward(self, x: Tensor) -> Tensor:
        a = x[:, None] if x.dim() == 1 else x
        a = a.to(self.linears[0].weight.dtype)
        last = len(self.linears) - 1
        for i, (layer, (c_w, c_b)) in enumerate(zip(self.linears, self.scales, strict=True)):
            a = c_w * (a @ layer.weight.T) + c_b * layer.bias
            a = torch.tanh(a) if i < last else a
        return a[:, 0]


def build_encoding(
    m: NTKModelConfig,
    in_features: int,
    seed: int,
    *,
    n_grid: int | None = None,
    encoding: str | None = None,
    p: float | None = None,
    scale: float | None = None,
) -> FourierEncoding:
    """gamma of the config (``encoding``/``p``/``scale`` override it, for sweeps).

    The number of frequencies is ``m.m`` or, unset, the encoding's natural default on the task's
    ``n_grid``-point grid (:func:`~spectral_cli.ntk.config.resolved_m`: toy on toy1d = the original
    document's full basis ``j = 1 .. n_grid / 2``).
    """
    name = encoding or m.encoding
    try:
        return make_encoding(
            name,
            in_features,
            m=resolved_m(m, name, n_grid),
            p=m.p if p is None else p,
            scale=m.scale if scale is None else scale,
            seed=seed,
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def build_network(
    m: NTKModelConfig, in_features: int, seed: int, device: torch.device
) -> nn.Module:
    """The MLP of the config on ``device`` (weights drawn on CPU, so CPU/CUDA runs match)."""
    gen = torch.Generator().manual_seed(int(seed))
    base = NTKMLP(
        in_features,
        m.width,
        m.depth,
        m.parameterization,
        m.w_std,
        m.b_std,
        generator=gen,
        dtype=DTYPES[m.dtype],
    )
    net: nn.Module = base if m.activation == "relu" else TanhMLP(base)
    return net.to(device)


def cross_kernel(
    cfg: NTKRunConfig, net: nn.Module | None, f_a: Tensor, f_b: Tensor | None = None
) -> Tensor:
    """``K(a, b)`` [n_a, n_b] (``K(a, a)`` when ``f_b`` is None, computed as a symmetric kernel),
    float64 on CPU: the analytic ReLU NTK, or the empirical one of ``net`` (needed then)."""
    m = cfg.model
    if cfg.kernel == "analytic":
        args = (f_a,) if f_b is None else (f_a, f_b)
        return analytic_relu_kernels(*args, depth=m.depth, w_std=m.w_std, b_std=m.b_std).ntk
    assert net is not None
    method: Literal["structured", "jacrev"] = "structured" if isinstance(net, NTKMLP) else "jacrev"
    first = next(net.parameters())  # layers.0.weight

    def moved(f: Tensor) -> Tensor:
        return f.to(device=first.device, dtype=first.dtype)

    args = (moved(f_a),) if f_b is None else (moved(f_a), moved(f_b))
    return empirical_ntk(net, *args, method=method).to("cpu", torch.float64)


def mse(pred: Tensor, y: Tensor) -> Tensor:
    """Mean squared error per signal: ``pred``, ``y`` [n, k] (or [..., n, k]) -> [k] ([..., k])."""
    return ((pred - y) ** 2).mean(dim=-2)


def regress(
    k_tr: Tensor, y_tr: Tensor, k_te: Tensor | None, eig: KernelEigen
) -> tuple[Tensor, Tensor | None, list[str]]:
    """NTK regression on train and test for all k signals; returns warnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NearSingularKernelWarning)
        tr = ntk_regression(k_tr, y_tr, eig=eig)
        te = None if k_te is None else ntk_regression(k_tr, y_tr, k_te, eig=eig)
    notes = [str(w.message) for w in caught if issubclass(w.category, NearSingularKernelWarning)]
    return tr, te, notes


def default_lr(eig: KernelEigen) -> float:
    """``1 / lambda_max``: half the stability limit of GD on the sum loss."""
    return 1.0 / float(eig.eigvals[0])


@dataclass(frozen=True)
class Dynamics:
    """A trained network against the NTK prediction at the recorded steps (one target)."""

    record: GDRecord
    ntk_train: Tensor  # [R, n]
    ntk_test: Tensor | None  # [R, n']
    residual_net: Tensor  # [R, n]: Q^T (f_net(t) - y)
    residual_ntk: Tensor  # [R, n]


def dynamics(
    net: nn.Module,
    f_train: Tensor,
    y: Tensor,
    f_test: Tensor | None,
    k_tr: Tensor,
    k_te: Tensor | None,
    eig: KernelEigen,
    *,
    steps: int,
    lr: float,
    record_every: int,
    device: torch.device,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
) -> Dynamics:
    """Train ``net`` (in place) on one target ``y`` [n] and predict the same steps with the NTK."""
    with torch.no_grad():
        dt = next(net.parameters()).dtype  # layers.0.weight's
        f0_tr = net(f_train.to(device, dt)).to("cpu", torch.float64)
        f0_te = None if f_test is None else net(f_test.to(device, dt)).to("cpu", torch.float64)
    rec = train_full_batch(
        net,
        f_train,
        y,
        f_test,
        steps=steps,
        lr=lr,
        record_every=record_every,
        device=device,
        observer=observer,
        stop=stop,
    )
    pred = gd_dynamics(
        k_tr,
        y,
        torch.tensor(rec.steps, dtype=torch.float64),
        lr=lr,
        K_test_train=k_te,
        f0_train=f0_tr,
        f0_test=f0_te,
        discrete=True,
        eig=eig,
    )
    return Dynamics(
        record=rec,
        ntk_train=pred.train,
        ntk_test=pred.test,
        residual_net=residual_in_eigenbasis(eig, rec.train, y),
        residual_ntk=residual_in_eigenbasis(eig, pred.train, y),
    )


def rel_gap(a: Tensor, b: Tensor) -> list[float]:
    """``||a(t) - b(t)|| / ||b(t)||`` per recorded step (rows)."""
    den = b.norm(dim=-1).clamp(min=1e-300)
    return ((a - b).norm(dim=-1) / den).tolist()


def decay_rates(res: Tensor, steps: list[int], floor: float = 1e-2) -> list[float | None]:
    """Measured initial decay rate per eigen-direction: least-squares slope of ``-log|r_i(t)|``
    over the recorded steps from 0 until ``|r_i|`` first falls below ``floor * |r_i(0)|`` (two
    decades: later, finite-width coupling between directions dominates). None with < 2 points."""
    t = torch.tensor(steps, dtype=torch.float64)
    out: list[float | None] = []
    for i in range(res.shape[1]):
        r = res[:, i].abs()
        below = (r <= floor * float(r[0])).nonzero()
        end = int(below[0]) if below.numel() else r.numel()
        if float(r[0]) == 0.0 or end < 2:
            out.append(None)
            continue
        tt, lr_ = t[:end], torch.log(r[:end])
        tc = tt - tt.mean()
        out.append(float(-(tc * (lr_ - lr_.mean())).sum() / (tc * tc).sum()))
    return out


def predicted_rates(eigvals: Tensor, lr: float) -> tuple[list[float], list[float | None]]:
    """Continuous ``lr * lambda_i`` (the original document's) and discrete
    ``-log|1 - lr lambda_i|``."""
    cont = (lr * eigvals.clamp(min=0)).tolist()
    disc = [None if abs(1 - c) == 0 else -math.log(abs(1 - c)) for c in cont]
    return cont, disc
