"""The classifier task most families share: cross-entropy, selected on validation accuracy."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spectral_cli.core.registry import Task
from spectral_cli.core.trainer import classification_loss, evaluate


def classifier_task(
    model: nn.Module, cfg: Any, data: Any, device: torch.device, member: Any = None
) -> Task:
    """Adam on cross-entropy; the kept weights are those of the best validation accuracy."""
    return Task(loss=classification_loss, select="val_acc", mode="max")


def classifier_metrics(
    model: nn.Module, cfg: Any, data: Any, device: torch.device, evaluate_test: bool
) -> dict[str, float | None]:
    """``test_acc``, ``test_loss`` (null without the test split), ``val_acc``, ``val_loss``,
    ``train_acc`` of the kept weights."""
    bs = cfg.train.eval_batch_size
    test_loss, test_acc = evaluate(model, data.test, bs, device) if evaluate_test else (None, None)
    val_loss, val_acc = evaluate(model, data.val, bs, device)
    _, train_acc = evaluate(model, data.train, bs, device)
    return {
        "test_acc": test_acc,
        "test_loss": test_loss,
        "val_acc": val_acc,
        "val_loss": val_loss,
        "train_acc": train_acc,
    }
