"""Full-batch gradient descent for ``spectral ntk``, run by the generic :class:`Trainer`.

Loss convention (the one :func:`spectral_cli.ntk.linalg.gd_dynamics` predicts):
``L(theta) = 1/2 sum_i (f(x_i) - y_i)^2`` -- a **sum** over the training points, as in Tancik et
al.'s code -- and plain GD ``theta <- theta - lr grad L`` (``torch.optim.SGD``, no momentum). With
a mean loss ``1/(2n) sum`` the same trajectory needs ``lr * n``; with ``MSELoss`` (``1/n sum``)
``lr * n / 2``.

How this fits the generic loop: every step sees the whole training set, so the loop's "training
split" is a dummy of ``record_every`` rows with batch size 1 -- each row is one full-batch GD step
(``loss_fn`` ignores the row and evaluates the fixed training set), one loop epoch is
``record_every`` steps, and the loop's per-epoch evaluation records the network's train and test
predictions. ``steps`` is rounded up to a multiple of ``record_every``. The loop's state file
lives in a temporary directory: these runs take seconds and are not resumable (Ctrl-C exits 130
and says so); NaN/inf losses exit 3 as everywhere.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from spectral_cli.core.errors import Interrupted, RuntimeFailure
from spectral_cli.core.schema import TrainConfig
from spectral_cli.core.signals import StopFlag
from spectral_cli.core.trainer import Observer, SilentObserver, Trainer


@dataclass
class _StepRows:
    x: Tensor
    y: Tensor


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
    seed: int,
    observer: Observer | None = None,
    stop: StopFlag | None = None,
) -> GDRecord:
    """Train ``model`` (in place) with ``steps`` full-batch GD steps; predictions every
    ``record_every`` steps (and at step 0), float64 on CPU."""
    record_every = max(1, min(int(record_every), int(steps)))
    epochs = math.ceil(steps / record_every)
    dtype = next(model.parameters()).dtype
    X = feats_train.to(device=device, dtype=dtype)
    Y = y_train.to(device=device, dtype=dtype).reshape(-1)
    Xt = None if feats_test is None else feats_test.to(device=device, dtype=dtype)
    train_preds: list[Tensor] = []
    test_preds: list[Tensor] = []

    def loss_fn(m: nn.Module, _x: Tensor, _y: Tensor) -> tuple[Tensor, None]:
        r = m(X) - Y
        return 0.5 * (r * r).sum(), None

    @torch.no_grad()
    def record(m: nn.Module) -> float:
        f = m(X)
        train_preds.append(f.detach().to("cpu", torch.float64))
        if Xt is not None:
            test_preds.append(m(Xt).detach().to("cpu", torch.float64))
        return float(0.5 * ((f - Y) ** 2).sum())

    def evaluate_fn(m: nn.Module) -> dict[str, float]:
        return {"val_loss": record(m)}  # selection is unused: the final weights are kept

    model.to(device)
    record(model)
    rows = _StepRows(x=torch.zeros(record_every, 1), y=torch.zeros(record_every))
    cfg = TrainConfig(epochs=epochs, lr=lr, batch_size=1, eval_batch_size=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with tempfile.TemporaryDirectory(prefix="spectral-ntk-gd-") as tmp:
        trainer = Trainer(
            model,
            cfg,
            rows,
            rows,
            device,
            seed,
            Path(tmp) / "state.safetensors",
            observer=observer or SilentObserver(),
            stop=stop,
            loss_fn=loss_fn,
            evaluate_fn=evaluate_fn,
            select="val_loss",
            mode="min",
            optimizer=optimizer,
        )
        try:
            trainer.fit()
        except Interrupted:
            raise Interrupted(
                "interrupted during gradient descent; spectral ntk runs are short "
                "and not resumable: rerun the command"
            ) from None
        except RuntimeFailure as exc:  # its message names a checkpoint in a deleted temp dir
            step = str(exc).split(";")[0].removeprefix("loss became ")
            raise RuntimeFailure(
                f"gradient descent diverged (loss became {step}); pass a smaller --lr "
                "(default 1/lambda_max of the train kernel)"
            ) from None
    model.eval()
    return GDRecord(
        steps=[r * record_every for r in range(epochs + 1)],
        train=torch.stack(train_preds),
        lr=float(lr),
        test=torch.stack(test_preds) if test_preds else None,
    )
