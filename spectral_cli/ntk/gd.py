"""Full-batch gradient descent for ``spectral ntk``: a short explicit loop.

Loss convention (the one :func:`spectral_cli.ntk.linalg.gd_dynamics` predicts):
``L(theta) = 1/2 sum_i (f(x_i) - y_i)^2`` -- a **sum** over the training points, as in Tancik et
al.'s code -- and plain GD ``theta <- theta - lr grad L`` (``torch.optim.SGD``, no momentum). With
a mean loss ``1/(2n) sum`` the same trajectory needs ``lr * n``; with ``MSELoss`` (``1/n sum``)
``lr * n / 2``.

Every step sees the whole training set, and nothing in a step is random, so the loop needs no
data order, no seed and no state file: the network's train and test predictions are recorded at
step 0 and every ``record_every`` steps (``steps`` is rounded up to a multiple of
``record_every``). These runs take seconds and are not resumable: a stop request (Ctrl-C,
SIGTERM) between two steps exits 130 and says so; a NaN/inf loss is a runtime failure (exit 3)
raised before the step that would use it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from spectral_cli.core.errors import Interrupted, RuntimeFailure
from spectral_cli.core.evaluation import Observer, SilentObserver
from spectral_cli.core.signals import StopFlag


@dataclass(frozen=True)
class GDRecord:
    """Predictions after ``steps[r]`` GD steps: ``train`` [R, n_train], ``test`` [R, n_test]."""

    steps: list[int]
    train: Tensor
    test: Tensor | None
    lr: float


def train_full_batch(
    model: nn.Module,
    feats_train: Tensor,
    y_train: Tensor,
    feats_test: Tensor | None,
    *,
    steps: int,
    lr: float,
    record_every: int,
    device: torch.device,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
) -> GDRecord:
    """Train ``model`` (in place) with ``steps`` full-batch GD steps; predictions every
    ``record_every`` steps (and at step 0), float64 on CPU."""
    record_every = max(1, min(int(record_every), int(steps)))
    rounds = math.ceil(steps / record_every)
    obs = observer or SilentObserver()
    stop = stop or StopFlag()
    dtype = next(model.parameters()).dtype
    X = feats_train.to(device=device, dtype=dtype)
    Y = y_train.to(device=device, dtype=dtype).reshape(-1)
    Xt = None if feats_test is None else feats_test.to(device=device, dtype=dtype)
    train_preds: list[Tensor] = []
    test_preds: list[Tensor] = []

    @torch.no_grad()
    def record() -> float:
        f = model(X)
        train_preds.append(f.detach().to("cpu", torch.float64))
        if Xt is not None:
            test_preds.append(model(Xt).detach().to("cpu", torch.float64))
        return float(0.5 * ((f - Y) ** 2).sum())

    model.to(device)
    record()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        for k in range(record_every):
            if stop.requested:
                raise Interrupted(
                    "interrupted during gradient descent; spectral ntk runs are short "
                    "and not resumable: rerun the command"
                )
            residual = model(X) - Y
            loss = 0.5 * (residual * residual).sum()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise RuntimeFailure(
                    f"gradient descent diverged (loss became {value} at step "
                    f"{(r - 1) * record_every + k + 1}); pass a smaller --lr "
                    "(default 1/lambda_max of the train kernel)"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            obs.on_step(r, k + 1, record_every)
        model.eval()
        train_loss = record()
        model.train()
        seconds = time.perf_counter() - t0
        obs.on_epoch(
            {"epoch": r, "step": r * record_every, "val_loss": train_loss, "seconds": seconds},
            False,
        )
    model.eval()
    return GDRecord(
        steps=[r * record_every for r in range(rounds + 1)],
        train=torch.stack(train_preds),
        lr=float(lr),
        test=torch.stack(test_preds) if test_preds else None,
    )
