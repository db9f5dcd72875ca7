"""Histogram of harmony scores, valid vs invalid inputs (headless; used by train hae and
harmony-score --checkpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spectral_cli.core.plots import pyplot, save_figure


def harmony_histograms(values: dict[str, dict[str, Any]], title: str, path: Path) -> None:
    """One panel per model: overlaid histograms of H for ``valid`` and ``invalid`` inputs."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(values), figsize=(6 * len(values), 3.8), squeeze=False)
    for ax, (name, v) in zip(axes[0], values.items(), strict=True):
        both = np.concatenate([np.ravel(v["valid"]), np.ravel(v["invalid"])])
        bins = np.linspace(float(both.min()), float(both.max()) + 1e-12, 50)
        ax.hist(np.ravel(v["valid"]), bins=bins, alpha=0.6, label="valid", color="tab:blue")
        ax.hist(np.ravel(v["invalid"]), bins=bins, alpha=0.6, label="invalid", color="tab:red")
        ax.set(xlabel="harmony H", ylabel="count", title=name)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    save_figure(fig, path)
