"""Headless matplotlib figures for run directories (imported lazily; Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.core.atomic import write_with


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    pyplot().close(fig)


def training_curves(
    runs: dict[str, tuple[Sequence[dict[str, float]], int]],
    select: str,
    title: str,
    path: Path,
    unit: str = "epoch",
) -> None:
    """Per model of the run: training and validation loss (left) and the selection metric
    (right, with the training accuracy where the family has one); each kept epoch marked.

    ``runs`` maps a model name to (history, best epoch); a history record has ``epoch``,
    ``loss``, ``val_loss``, ``select`` and optionally ``train_acc`` and ``step``.
    """
    plt = pyplot()
    fig, (ax_loss, ax_sel) = plt.subplots(1, 2, figsize=(10, 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, (history, best)) in enumerate(runs.items()):
        color = colors[i % len(colors)]
        key = "step" if unit == "step" and history and "step" in history[0] else "epoch"
        xs = [h[key] for h in history]
        tag = f"{name} " if len(runs) > 1 else ""
        ax_loss.plot(xs, [h["loss"] for h in history], color=color, label=f"{tag}train")
        ax_loss.plot(
            xs,
            [h["val_loss"] for h in history],
            color=color,
            linestyle="--",
            label=f"{tag}validation",
        )
        ax_sel.plot(
            xs,
            [h.get(select, float("nan")) for h in history],
            color=color,
            linestyle="--",
            label=f"{tag}{select}",
        )
        if history and "train_acc" in history[0] and select == "val_acc":
            ax_sel.plot(xs, [h["train_acc"] for h in history], color=color, label=f"{tag}train")
        if best:
            x_best = next((h[key] for h in history if int(h["epoch"]) == best), None)
            if x_best is not None:
                for ax in (ax_loss, ax_sel):
                    ax.axvline(x_best, color=color, linestyle=":", alpha=0.7)
    ax_loss.set(xlabel=unit, ylabel="loss", title="loss (dotted: kept weights)")
    if all(min((h["loss"] for h in hist), default=1.0) > 0 for hist, _ in runs.values()):
        ax_loss.set_yscale("log")
    ax_sel.set(xlabel=unit, ylabel=select, title=f"selection metric {select}")
    for ax in (ax_loss, ax_sel):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    save_figure(fig, path)


def embedding_heatmap(table: np.ndarray, title: str, path: Path) -> None:
    """An embedding table (tokens x dimensions) as a heatmap."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    lim = float(np.abs(table).max()) or 1.0
    im = ax.imshow(
        table, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest"
    )
    ax.set(xlabel="embedding dimension j", ylabel="token i", title=title)
    fig.colorbar(im, ax=ax)
    save_figure(fig, path)


def histogram(values: np.ndarray, xlabel: str, title: str, path: Path, bins: int = 60) -> None:
    """A histogram of ``values``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.hist(values.ravel(), bins=bins, color="tab:blue", alpha=0.8)
    ax.set(xlabel=xlabel, ylabel="count", title=title)
    ax.grid(alpha=0.3)
    save_figure(fig, path)
