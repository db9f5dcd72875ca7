"""Headless matplotlib figures for run directories (imported lazily; Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.io.atomic import write_with


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    _pyplot().close(fig)


def training_curves(
    history: Sequence[dict[str, float]], best_epoch: int, title: str, path: Path
) -> None:
    """Loss (left) and train/validation accuracy (right) per epoch, best epoch marked."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(epochs, [h["loss"] for h in history], label="train")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.plot(epochs, [h["train_acc"] for h in history], label="train")
    ax_acc.plot(epochs, [h["val_acc"] for h in history], label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best val (epoch {best_epoch})")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    _save(fig, path)


def embedding_heatmap(table: np.ndarray, title: str, path: Path) -> None:
    """An embedding table (tokens x dimensions) as a heatmap."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    lim = float(np.abs(table).max()) or 1.0
    im = ax.imshow(
        table, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest"
    )
    ax.set(xlabel="embedding dimension j", ylabel="token i", title=title)
    fig.colorbar(im, ax=ax)
    _save(fig, path)


def histogram(values: np.ndarray, xlabel: str, title: str, path: Path, bins: int = 60) -> None:
    """A histogram of ``values``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.hist(values.ravel(), bins=bins, color="tab:blue", alpha=0.8)
    ax.set(xlabel=xlabel, ylabel="count", title=title)
    ax.grid(alpha=0.3)
    _save(fig, path)
