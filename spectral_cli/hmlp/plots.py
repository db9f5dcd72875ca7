"""Figures of the Harmonic MLP runs: neuron activations and hmlp-vs-mlp training curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.core.plots import pyplot, save_figure


def activation_curves(layers: Sequence[Any], path: Path, z_max: float = 6.0) -> None:
    """One panel per hidden layer: ``a_i(z)`` of the neurons with distinct frequencies (<= 6)."""
    import torch

    plt = pyplot()
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
    save_figure(fig, path)
