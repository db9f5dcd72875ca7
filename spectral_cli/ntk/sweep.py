"""``--sweep-p`` / ``--sweep-scale``: test error of NTK regression and trained networks per value.

For each value v the mapping is rebuilt (toy ``p = v``, or posenc/gauss ``scale = v``), the MLP is
initialized from the run seed (the same weights for every target), and for each of the k target
signals:

* ``test_mse_ntk`` -- NTK regression ``K_test (K + eps I)^{-1} y`` (the original document's eq. 3 at
  t = inf);
* ``test_mse_ntk_t`` -- the linearized prediction after the same T GD steps as the network, from
  the network's own outputs at initialization (what the trained network should match);
* ``test_mse_network`` -- a copy of the MLP trained with T full-batch GD steps (sum loss, lr =
  ``train.lr`` or ``1 / lambda_max`` of this value's kernel).

Each entry is the mean over the k signals with the sample standard deviation (0 for k = 1); the
per-signal values (``*_per_signal``, signal i = toy1d seed ``seed + i``) are kept too, so two
values of the sweep can be compared target by target (the same targets at every value).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from spectral_cli.core.errors import BadInput
from spectral_cli.core.evaluation import Observer, SilentObserver
from spectral_cli.core.signals import StopFlag
from spectral_cli.ntk.experiment import default_lr, dynamics, mse, regress
from spectral_cli.ntk.store import KernelStore


@dataclass
class SweepPoint:
    """One sweep value: means/stds over signals, curves (mean over signals) for the plot."""

    value: float
    test_mse_ntk: float
    test_mse_ntk_std: float
    test_mse_ntk_t: float
    test_mse_network: float
    test_mse_network_std: float
    train_mse_network: float
    lr: float
    condition_number: float
    eigvals: list[float]
    test_mse_ntk_per_signal: list[float] = field(default_factory=list)
    test_mse_network_per_signal: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    test_curve_network: list[float] = field(default_factory=list)
    test_curve_ntk: list[float] = field(default_factory=list)
    train_curve_network: list[float] = field(default_factory=list)
    train_curve_ntk: list[float] = field(default_factory=list)
    profile: tuple[list[float], list[float]] | None = None
    notes: list[str] = field(default_factory=list)


def _mean_std(v: Tensor) -> tuple[float, float]:
    return float(v.mean()), float(v.std()) if v.numel() > 1 else 0.0


def run_sweep(
    store: KernelStore,
    steps: int,
    record_every: int | None,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
) -> list[SweepPoint]:
    """The sweep of ``store.cfg.sweep`` on the store's task (needs test data); a value equal to
    the run's own ``p``/``scale`` reuses the run's kernels. GD training is timed as ``sweep``."""
    cfg, task, device = store.cfg, store.task, store.device
    if task.x_test is None or task.y_test is None:
        raise BadInput("a sweep compares test errors; the task file needs x_test and y_test")
    obs = observer or SilentObserver()
    param = cfg.sweep.param
    points: list[SweepPoint] = []
    y_tr, y_te = task.y_train, task.y_test
    for v in cfg.sweep.values:
        var = store.variant(p=v) if param == "p" else store.variant(scale=v)
        f_tr, f_te, net = var.f_train, var.f_test, var.network
        k_tr, k_te, eig = var.k_train(), var.k_test(), var.eig()
        with store.timer("regression"):
            _, te_reg, notes = regress(k_tr, y_tr, k_te, eig)
        assert te_reg is not None
        lr = cfg.train.lr or default_lr(eig)
        every = record_every or max(1, steps // 50)
        net_te, net_tr, ntk_t = [], [], []
        curves: dict[str, list[Tensor]] = {"tn": [], "tk": [], "rn": [], "rk": []}
        for j in range(task.n_signals):
            model = copy.deepcopy(net)
            with store.timer("sweep"):
                dyn = dynamics(
                    model,
                    f_tr,
                    y_tr[:, j],
                    f_te,
                    k_tr,
                    k_te,
                    eig,
                    steps=steps,
                    lr=lr,
                    record_every=every,
                    device=device,
                    stop=stop,
                )
            assert dyn.record.test is not None and dyn.ntk_test is not None
            yj_te, yj_tr = y_te[:, j], y_tr[:, j]
            curves["tn"].append(((dyn.record.test - yj_te) ** 2).mean(-1))
            curves["tk"].append(((dyn.ntk_test - yj_te) ** 2).mean(-1))
            curves["rn"].append(((dyn.record.train - yj_tr) ** 2).mean(-1))
            curves["rk"].append(((dyn.ntk_train - yj_tr) ** 2).mean(-1))
            net_te.append(float(curves["tn"][-1][-1]))
            net_tr.append(float(curves["rn"][-1][-1]))
            ntk_t.append(float(curves["tk"][-1][-1]))
        per_ntk = mse(te_reg, y_te)
        m_ntk, s_ntk = _mean_std(per_ntk)
        m_net, s_net = _mean_std(torch.tensor(net_te))
        profile = None
        if task.x_grid is not None and task.in_features == 1:
            dx, row = var.profile(task.x_grid)
            profile = (dx.tolist(), row.tolist())
        cond = eig.condition_number
        points.append(
            SweepPoint(
                value=v,
                test_mse_ntk=m_ntk,
                test_mse_ntk_std=s_ntk,
                test_mse_ntk_t=float(torch.tensor(ntk_t).mean()),
                test_mse_network=m_net,
                test_mse_network_std=s_net,
                train_mse_network=float(torch.tensor(net_tr).mean()),
                test_mse_ntk_per_signal=per_ntk.tolist(),
                test_mse_network_per_signal=net_te,
                lr=lr,
                condition_number=cond if math.isfinite(cond) else math.inf,
                eigvals=eig.eigvals.tolist(),
                steps=dyn.record.steps,
                test_curve_network=torch.stack(curves["tn"]).mean(0).tolist(),
                test_curve_ntk=torch.stack(curves["tk"]).mean(0).tolist(),
                train_curve_network=torch.stack(curves["rn"]).mean(0).tolist(),
                train_curve_ntk=torch.stack(curves["rk"]).mean(0).tolist(),
                profile=profile,
                notes=notes,
            )
        )
        obs.log(
            f"sweep {param}={v:g}: test MSE NTK {m_ntk:.4g} ± {s_ntk:.2g}, "
            f"network {m_net:.4g} ± {s_net:.2g} ({task.n_signals} signals, {steps} steps)"
        )
    return points
