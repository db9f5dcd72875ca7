"""Figures of the Harmonic MLP runs: neuron activations and hmlp-vs-mlp training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.io.plots import _pyplot, _save


def activation_curves(layers: Sequence[Any], path: Path, z_max: float = 6.0) -> None:
    """One panel per hidden layer: ``a_i(z)`` of the neurons with distinct frequencies (<= 6)."""
    import torch

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(layers), figsize=(5.2 * len(layers), 3.8), squeeze=False)
    z = torch.linspace(-z_max, z_max, 801)
    for index, (ax, layer) in enumerate(zip(axes[0], layers, strict=True)):
        freqs = layer.frequencies.detach().cpu()
        _, first = np.unique(freqs.numpy(), return_index=True)
        for i in first[:6]:
            zi = torch.zeros(z.numel(), freqs.numel())
            zi[:, int(i)] = z
            with torch.no_grad():
                a = layer.act(zi.to(layer.frequencies.device))[:, int(i)].cpu().numpy()
            ax.plot(z.numpy(), a, label=f"neuron {int(i)}, f = {float(freqs[i]):g}")
        ax.set(
            xlabel="pre-activation z",
            ylabel="activation",
            title=f"layer {index} ({layer.activation}, {freqs.numel()} neurons)",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("activation functions of a few neurons")
    _save(fig, path)


def compare_curves(
    histories: Mapping[str, Sequence[Mapping[str, float]]], title: str, path: Path
) -> None:
    """Training loss (left) and validation accuracy (right) per epoch, one line per family."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        line = ax_loss.plot(epochs, [h["loss"] for h in history], label=f"{name} train")[0]
        ax_loss.plot(
            epochs,
            [h["val_loss"] for h in history],
            linestyle="--",
            color=line.get_color(),
            label=f"{name} validation",
        )
        ax_acc.plot(
            epochs,
            [h["train_acc"] for h in history],
            color=line.get_color(),
            alpha=0.5,
            label=f"{name} train",
        )
        ax_acc.plot(
            epochs,
            [h["val_acc"] for h in history],
            linestyle="--",
            color=line.get_color(),
            label=f"{name} validation",
        )
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    _save(fig, path)
