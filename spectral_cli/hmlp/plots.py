"""Figures of the Harmonic MLP runs: the activation functions of the harmonic neurons.

``activations.png`` is drawn for harmonic models only: a plain ReLU MLP's neurons all share one
activation (``max(0, z)``), so an ``mlp`` run without a harmonic sibling has no such figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.core.plots import legend_right, pyplot, save_figure


def harmonic_layers(layers: Sequence[Any]) -> list[Any]:
    """The layers whose activation is harmonic (a ReLU layer has nothing per neuron to show)."""
    return [layer for layer in layers if layer.activation == "harmonic"]


def build_activation_curves(layers: Sequence[Any], title: str, z_max: float = 6.0) -> Any:
    """One panel per harmonic hidden layer: ``a_i(z)`` of up to six neurons with distinct
    frequencies (legend outside, on the right)."""
    import torch

    plt = pyplot()
    fig, axes = plt.subplots(
        1, len(layers), figsize=(6.4 * len(layers), 3.8), squeeze=False, layout="constrained"
    )
    z = torch.linspace(-z_max, z_max, 801)
    for index, (ax, layer) in enumerate(zip(axes[0], layers, strict=True)):
        freqs = layer.frequencies.detach().cpu()
        _, first = np.unique(freqs.numpy(), return_index=True)
        for i in first[:6]:
            zi = torch.zeros(z.numel(), freqs.numel())
            zi[:, int(i)] = z
            with torch.no_grad():
                a = layer.act(zi.to(layer.frequencies.device))[:, int(i)].cpu().numpy()
            ax.plot(z.numpy(), a, label=f"neuron {int(i)}, f = {float(freqs[i]):.3g}")
        distinct = len(first)
        ax.set(
            xlabel="pre-activation z",
            ylabel="activation a(z)",
            title=f"layer {index}: {min(distinct, 6)} of {distinct} distinct frequencies "
            f"({freqs.numel()} neurons)",
        )
        ax.grid(alpha=0.3)
        legend_right(ax)
    fig.suptitle(title)
    return fig


def activation_curves(layers: Sequence[Any], title: str, path: Path) -> Path:
    """Draw and save ``activations.png`` (:func:`build_activation_curves`)."""
    return save_figure(build_activation_curves(layers, title), path)
