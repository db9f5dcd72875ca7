"""What the training loop and its callers share: progress observers and evaluation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SplitLike(Protocol):
    x: Tensor
    y: Tensor


class Observer(Protocol):
    """Progress sink (the CLI renders it with rich; core code never prints)."""

    def log(self, message: str) -> None: ...

    def on_step(self, epoch: int, step: int, steps: int) -> None: ...

    def on_epoch(self, record: dict[str, float], improved: bool) -> None: ...


class SilentObserver:
    def log(self, message: str) -> None:
        pass

    def on_step(self, epoch: int, step: int, steps: int) -> None:
        pass

    def on_epoch(self, record: dict[str, float], improved: bool) -> None:
        pass


def classification_loss(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor | None]:
    """Mean cross-entropy and the number of correct predictions."""
    logits = model(x)
    return F.cross_entropy(logits.float(), y), (logits.argmax(-1) == y).sum()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    split: SplitLike,
    batch_size: int,
    device: torch.device,
    loss_fn: Callable[[nn.Module, Tensor, Tensor], tuple[Tensor, Tensor | None]] = (
        classification_loss
    ),
) -> tuple[float, float | None]:
    """(mean loss, accuracy) of ``model`` in eval mode over ``split`` (``loss_fn``'s loss and
    correct count; a regression ``loss_fn`` returns ``None`` hits and the accuracy is ``None``)."""
    was_training = model.training
    model.eval()
    total_loss, correct, n = 0.0, 0, int(split.y.shape[0])
    regression = False
    for start in range(0, n, batch_size):
        x = split.x[start : start + batch_size].to(device)
        y = split.y[start : start + batch_size].to(device)
        loss, hits = loss_fn(model, x, y)
        total_loss += float(loss) * y.shape[0]
        if hits is None:
            regression = True
        else:
            correct += int(hits)
    model.train(was_training)
    return total_loss / max(n, 1), None if regression else correct / max(n, 1)
