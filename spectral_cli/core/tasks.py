"""What the classifier families share: cross-entropy training and their final metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from spectral_cli.core.evaluation import classification_loss, evaluate
from spectral_cli.core.registry import Member, ModelOutcome, Outcome, Task, TrainedRun


def classifier_task(model: nn.Module, member: Member, data: Any, device: torch.device) -> Task:
    """Adam on cross-entropy; the kept weights are those of the best validation accuracy."""
    return Task(loss=classification_loss)


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


def classifier_finish(
    extras: Callable[[nn.Module, Any], dict[str, Any]] | None = None,
) -> Callable[[TrainedRun], Outcome]:
    """A classifier family's ``finish``: :func:`classifier_metrics` of every model, plus the
    family's ``extras(model, cfg)`` per model (its figures are the family's ``figures``)."""

    def finish(run: TrainedRun) -> Outcome:
        models = {}
        for tm in run.models:
            cfg = tm.member.cfg
            metrics = classifier_metrics(tm.model, cfg, run.data, run.device, run.evaluate_test)
            models[tm.member.name] = ModelOutcome(
                metrics, extras(tm.model, cfg) if extras and not run.metrics_only else {}
            )
        return Outcome(models)

    return finish
